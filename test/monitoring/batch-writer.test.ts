import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FsModelStore } from '../../shared/store';
import { BatchWriter, decodeBatch } from '../../shared/telemetry/capture';
import { silentLogger } from '../../shared/telemetry/log';
import { removeTempDirs, tempDir } from '../support/fixtures';

afterAll(removeTempDirs);

interface Row {
  model: string;
  n: number;
}

function writer(now: () => number, store = new FsModelStore(tempDir('modelfleet-batches-'))) {
  const batches = new BatchWriter<Row>({
    store,
    keyOf: (model, at, batchId) => `${model}/batches/${at.getTime()}-${batchId}.jsonl.gz`,
    modelOf: (row) => row.model,
    maxRecords: 5,
    maxAgeMs: 60_000,
    maxBuffered: 8,
    log: silentLogger,
    now,
  });
  return { batches, store };
}

async function stored(store: FsModelStore, model: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const name of await store.list(`${model}/batches`)) {
    const result = await store.get(`${model}/batches/${name}`);
    if (result.status === 'ok') rows.push(...(decodeBatch(result.body) as Row[]));
  }
  return rows.sort((a, b) => a.n - b.n);
}

describe('BatchWriter', () => {
  it('writes once a batch is full, without being asked, one object per model', async () => {
    const { batches, store } = writer(() => 0);
    for (let n = 0; n < 4; n++) batches.add({ model: n % 2 === 0 ? 'a' : 'b', n });
    expect(await store.list('a')).toEqual([]);
    batches.add({ model: 'a', n: 4 });
    // The fifth record started the write: the buffer was handed over at once.
    expect(batches.buffered).toBe(0);
    await batches.flush();
    expect((await stored(store, 'a')).map((r) => r.n)).toEqual([0, 2, 4]);
    expect((await stored(store, 'b')).map((r) => r.n)).toEqual([1, 3]);
  });

  it('writes a batch that is old enough when the next record arrives (flush inside an invocation)', async () => {
    let clock = 0;
    const { batches, store } = writer(() => clock);
    batches.add({ model: 'a', n: 0 });
    clock = 59_999;
    batches.add({ model: 'a', n: 1 });
    expect(batches.buffered).toBe(2);
    clock = 60_000;
    batches.add({ model: 'a', n: 2 });
    expect(batches.buffered).toBe(0);
    await batches.flush();
    expect((await stored(store, 'a')).map((r) => r.n)).toEqual([0, 1, 2]);
  });

  it('keeps at most the bound when writes fail, counting the rest as dropped', async () => {
    // A real folder store whose root is a file: every write fails until the file becomes a folder.
    const root = path.join(tempDir('modelfleet-batches-'), 'repo');
    writeFileSync(root, 'not a folder');
    const store = new FsModelStore(root);
    const { batches } = writer(() => 0, store);
    for (let n = 0; n < 12; n++) batches.add({ model: 'a', n });
    await batches.flush();
    expect(batches.buffered).toBe(8);
    expect(batches.takeDropped()).toBe(4);
    expect(batches.takeDropped()).toBe(0);
    rmSync(root);
    mkdirSync(root);
    await batches.flush();
    expect((await stored(store, 'a')).length).toBe(8);
  });
});
