/**
 * A batch job whose runs go to an inference worker thread (what the CLI does when installed): the
 * next batch is read while the worker runs this one, and the output must not change by a byte —
 * parts, markers and errors.jsonl equal to the inline run, rows in order, errors at their rows.
 */
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { BatchFormat } from '../../shared/batch/job';
import { storeSource } from '../../shared/batch/lines';
import { describeInput, loadBatchModel, runBatch } from '../../shared/batch/run';
import type { InferenceEngine } from '../../shared/serving/engine';
import { WorkerPoolEngine } from '../../shared/serving/worker-pool';
import { FsModelStore } from '../../shared/store';
import { silentLogger } from '../../shared/telemetry/log';
import { removeTempDirs, sampleRepository, tempDir } from '../support/fixtures';
import { seededRandom } from '../support/random';
import { serverBundle } from '../support/server-bundle';

jest.setTimeout(60_000);

let engine: WorkerPoolEngine;
beforeAll(() => {
  engine = new WorkerPoolEngine({
    size: 1,
    inlineBelowMs: 0,
    log: silentLogger,
    workerFile: serverBundle().worker,
  });
});
afterAll(async () => {
  await engine.close();
  removeTempDirs();
});

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

// 'x' and 1e39 (beyond FP32) are refused in both formats; an empty cell only in CSV (JSON lines get
// Number('') = 0); '"2"' only in JSON lines (a quoted number is a number in CSV, Number('"2"') is NaN).
const ODD_CELLS = ['', 'x', '1e39', '"2"'];

/** 3,000 rows, one in 50 broken in one of several ways, as CSV and as JSON lines. */
function inputs(): Record<BatchFormat, string | Buffer> {
  const random = seededRandom(23);
  const rows = Array.from({ length: 3000 }, (_, row) => {
    const cells = FEATURES.map(() => (1 + random() * 6).toFixed(2));
    if (row % 50 === 7) cells[row % 4] = ODD_CELLS[Math.floor(row / 50) % 4] as string;
    return cells;
  });
  const csv = `${FEATURES.join(',')}\n${rows.map((cells) => cells.join(',')).join('\n')}\n`;
  const jsonl = rows
    .map((cells) => JSON.stringify(Object.fromEntries(FEATURES.map((name, j) => [name, Number(cells[j])]))))
    .join('\n');
  // Parquet: an empty or text cell is a null, '"2"' is 2; two row groups, so two chunks.
  const columnData = FEATURES.map((name, j) => ({
    name,
    type: 'DOUBLE' as const,
    data: rows.map((cells) => {
      const value = Number((cells[j] as string).replaceAll('"', ''));
      return (cells[j] as string) === '' || Number.isNaN(value) ? null : value;
    }),
  }));
  return {
    csv,
    jsonl: `${jsonl}\n`,
    parquet: Buffer.from(parquetWriteBuffer({ columnData, rowGroupSize: 1500 })),
  };
}

async function run(dir: string, file: string, format: BatchFormat, out: string, with_?: InferenceEngine) {
  const repository = await sampleRepository();
  const source = storeSource(new FsModelStore(dir), file);
  const output = new FsModelStore(path.join(dir, out));
  await runBatch({
    input: await describeInput(source, dir, file, format),
    model: 'iris',
    stage: 'local',
    chunkBytes: 16 * 1024,
    batchRows: 64,
    target: async () => ({ version: 1, variant: 'pinned' }),
    now: new Date(0),
    source,
    output,
    load: (job) => loadBatchModel(repository, job.model, job.version, undefined, with_),
    limits: { maxTensorElements: 1 << 20 },
    ...(with_ === undefined ? {} : { engine: with_ }),
  });
  const files: Record<string, string> = {};
  for (const key of [
    ...(await output.list('')),
    ...(await output.list('_chunks')).map((k) => `_chunks/${k}`),
  ]) {
    if (key === '_chunks' || key === '_SUCCESS.json' || key === '_job.json') continue;
    const read = await output.get(key);
    if (read.status === 'ok') files[key] = read.body.toString('utf8');
  }
  return files;
}

describe('a batch job on an inference worker thread', () => {
  it.each<BatchFormat>(['csv', 'jsonl', 'parquet'])(
    '%s: writes what the inline job writes, byte for byte',
    async (format) => {
      const dir = tempDir();
      const file = `rows.${format}`;
      await new FsModelStore(dir).put(file, Buffer.from(inputs()[format]));
      const before = engine.workerRuns;
      const threaded = await run(dir, file, format, 'threaded', engine);
      const inline = await run(dir, file, format, 'inline');
      expect(engine.workerRuns - before).toBeGreaterThan(40);
      expect(Object.keys(threaded).filter((key) => key.startsWith('part-')).length).toBeGreaterThan(1);
      expect(threaded).toEqual(inline);
      const errors = (threaded['errors.jsonl'] ?? '').trim().split('\n');
      const refused = (row: number) => {
        const kind = Math.floor(row / 50) % 4;
        if (format === 'parquet') return kind !== 3;
        return kind === 1 || kind === 2 || (format === 'csv' ? kind === 0 : kind === 3);
      };
      const broken = Array.from({ length: 60 }, (_, i) => i * 50 + 7);
      expect(errors.map((line) => (JSON.parse(line) as { row: number }).row)).toEqual(broken.filter(refused));
    },
  );
});
