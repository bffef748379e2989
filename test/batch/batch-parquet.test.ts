/**
 * Parquet input for `modelfleet batch` and the cloud chunk workers: chunks follow the row groups
 * (a pure plan), a chunk reads only the footer and its own row groups through ranged reads, the
 * predictions equal the same rows' as CSV, a partial run resumes without losing or repeating a
 * row, bad values become per-row errors with their row number, and a file that is not Parquet
 * (or uses a codec hyparquet cannot decode here) is refused by name. Fixtures are written in the
 * test by hyparquet-writer.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type ColumnSource, parquetWriteBuffer } from 'hyparquet-writer';
import { run } from '../../scripts/cli';
import { processChunk } from '../../shared/batch/chunk';
import type { BatchJob, BatchSummary, ChunkRange, ParquetLayout } from '../../shared/batch/job';
import type { ByteSource } from '../../shared/batch/lines';
import { cellOf, describeParquet, readFooter } from '../../shared/batch/parquet';
import { planRowGroupChunks } from '../../shared/batch/parquet-plan';
import { chunksOf } from '../../shared/batch/run';
import { BatchWorker } from '../../shared/batch/worker';
import { runInference } from '../../shared/serving/inference';
import { ModelCache } from '../../shared/serving/model-cache';
import { openStore } from '../../shared/store';
import { repositoryLocation, type StoreKind } from '../storage/stores';
import { cliEnv, predictionLines, publishIris } from '../support/batch';
import { removeTempDirs, sampleApp, tempDir } from '../support/fixtures';
import { seededRandom } from '../support/random';

afterAll(removeTempDirs);

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
/** 24,000 rows in six row groups of different sizes. */
const GROUP_ROWS = [3000, 5000, 2000, 6000, 4000, 4000];
const ROWS = GROUP_ROWS.reduce((sum, rows) => sum + rows, 0);

function memorySource(bytes: Buffer): ByteSource & { reads: [number, number][] } {
  const source = {
    reads: [] as [number, number][],
    async read(start: number, end: number) {
      source.reads.push([start, Math.min(end, bytes.byteLength)]);
      return { body: bytes.subarray(start, Math.min(end, bytes.byteLength)), size: bytes.byteLength };
    },
  };
  return source;
}

/** Seeded iris-like rows, two decimals; sepal_width with one decimal (few values: dictionary pages). */
function irisRows(): number[][] {
  const random = seededRandom(23);
  return Array.from({ length: ROWS }, () => [
    Number((4 + random() * 4).toFixed(2)),
    Number((2 + random() * 2.5).toFixed(1)),
    Number((1 + random() * 6).toFixed(2)),
    Number((0.1 + random() * 2.4).toFixed(2)),
  ]);
}

function parquetOf(columns: ColumnSource[], rowGroupSize: number | number[], extra = {}): Buffer {
  return Buffer.from(parquetWriteBuffer({ columnData: columns, rowGroupSize, ...extra }));
}

function irisParquet(rows: readonly number[][]): Buffer {
  return parquetOf(
    FEATURES.map((name, j) => ({ name, type: 'DOUBLE', data: rows.map((row) => row[j] as number) })),
    GROUP_ROWS,
  );
}

function irisCsv(rows: readonly number[][]): string {
  return `${FEATURES.join(',')}\n${rows.map((row) => row.join(',')).join('\n')}\n`;
}

const rows = irisRows();
const irisFile = irisParquet(rows);

/** Every row's prediction line from one session.run over all rows. */
async function directLines(): Promise<string[]> {
  const { app } = await sampleApp();
  const { model } = await new ModelCache(app.repository, 1).get('iris', 1);
  const { outputs } = await runInference(model, {
    inputs: new Map([['input', { name: 'input', shape: [ROWS, 4], data: new Float32Array(rows.flat()) }]]),
    outputs: ['probabilities', 'label'],
  });
  const [probabilities, label] = outputs;
  return Array.from({ length: ROWS }, (_, row) =>
    JSON.stringify({
      probabilities: probabilities?.data?.slice(row * 3, row * 3 + 3),
      label: label?.data?.[row],
    }),
  );
}

/** iris published on an emulator, the Parquet (and CSV) rows put under in/. */
async function setUp(kind: StoreKind) {
  const { url, settings } = await repositoryLocation(kind);
  const env = cliEnv(`${url}/repository`, settings);
  await publishIris(env);
  const input = openStore(`${url}/in`, settings);
  await input.put('rows.parquet', irisFile);
  await input.put('rows.csv', Buffer.from(irisCsv(rows)));
  return { url, settings, env };
}

async function batchJson(args: string[], env: NodeJS.ProcessEnv) {
  const printed: string[] = [];
  await run(['batch', ...args, '--json'], env, (text) => printed.push(text));
  return JSON.parse(printed.join('\n')) as BatchSummary & { resumed: boolean; skippedChunks: number };
}

/** A chunk size that puts about two of the file's six row groups in each chunk. */
async function twoGroupChunkBytes(): Promise<{ chunkBytes: number; layout: ParquetLayout }> {
  const input = await describeParquet(memorySource(irisFile), 'mem://', 'rows.parquet');
  const layout = input.parquet as ParquetLayout;
  const [first, second] = layout.rowGroups;
  return { chunkBytes: (first?.bytes ?? 0) + (second?.bytes ?? 0) + 1024, layout };
}

let direct: Promise<string[]> | undefined;
const expectedLines = (): Promise<string[]> => {
  direct ??= directLines();
  return direct;
};

describe('Parquet chunks follow the row groups (pure plan)', () => {
  const layout: ParquetLayout = {
    rows: 60,
    rowGroups: [
      { rows: 10, start: 4, bytes: 1000 },
      { rows: 20, start: 1004, bytes: 3000 },
      { rows: 5, start: 4004, bytes: 500 },
      { rows: 0, start: 4504, bytes: 0 },
      { rows: 25, start: 4504, bytes: 9000 },
    ],
  };

  it('packs whole row groups up to chunkBytes of compressed data; a larger group is a chunk alone', () => {
    expect(planRowGroupChunks(layout, 4, 20_000, 4096)).toEqual([
      { index: 0, start: 4, end: 4004, rowGroups: { first: 0, end: 2 }, rows: { first: 0, end: 30 } },
      { index: 1, start: 4004, end: 4504, rowGroups: { first: 2, end: 4 }, rows: { first: 30, end: 35 } },
      { index: 2, start: 4504, end: 20_000, rowGroups: { first: 4, end: 5 }, rows: { first: 35, end: 60 } },
    ]);
  });

  it('covers every row group and row once, in order, and the bytes up to the end, for any chunk size', () => {
    const random = seededRandom(11);
    let start = 4;
    const groups = Array.from({ length: 40 }, () => {
      const group = { rows: Math.floor(random() * 100), start, bytes: 1 + Math.floor(random() * 5000) };
      start += group.bytes;
      return group;
    });
    const many: ParquetLayout = { rows: groups.reduce((sum, g) => sum + g.rows, 0), rowGroups: groups };
    for (const chunkBytes of [1024, 3000, 8000, 50_000, 1 << 30]) {
      const chunks = planRowGroupChunks(many, 4, start + 100, chunkBytes);
      expect(chunks.map((chunk) => chunk.index)).toEqual([...chunks.keys()]);
      expect(chunks[0]?.start).toBe(4);
      expect(chunks.at(-1)?.end).toBe(start + 100);
      chunks.forEach((chunk, i) => {
        const next = chunks[i + 1];
        if (next === undefined) return;
        expect(next.start).toBe(chunk.end);
        expect(next.rowGroups?.first).toBe(chunk.rowGroups?.end);
        expect(next.rows?.first).toBe(chunk.rows?.end);
        const bytes = groups
          .slice(chunk.rowGroups?.first, chunk.rowGroups?.end)
          .reduce((sum, group) => sum + group.bytes, 0);
        // Full: the next group would not have fitted (or the chunk is one oversized group).
        expect(bytes + (groups[next.rowGroups?.first ?? 0]?.bytes ?? 0)).toBeGreaterThan(chunkBytes);
      });
      expect(chunks.at(-1)?.rowGroups?.end).toBe(groups.length);
      expect(chunks.at(-1)?.rows?.end).toBe(many.rows);
    }
    expect(planRowGroupChunks({ rows: 0, rowGroups: [] }, 4, 100, 4096)).toEqual([]);
    expect(() => planRowGroupChunks(layout, 4, 20_000, 100)).toThrow(/chunk size: expected a whole number/);
  });

  it('a job of the same input plans the same chunks again (what each map iteration does)', async () => {
    const input = await describeParquet(memorySource(irisFile), 'mem://', 'rows.parquet');
    const job = { input, chunkBytes: 64 * 1024 } as BatchJob;
    expect(chunksOf(job)).toEqual(chunksOf(JSON.parse(JSON.stringify(job)) as BatchJob));
    expect(input.parquet?.rowGroups.map((group) => group.rows)).toEqual(GROUP_ROWS);
    expect(input).toMatchObject({
      format: 'parquet',
      header: FEATURES,
      size: irisFile.byteLength,
      dataStart: 4,
    });
  });
});

describe('Parquet values as cells', () => {
  it.each([
    [1.5, 1.5],
    [null, null],
    [undefined, null],
    ['text', 'text'],
    [true, true],
    [42n, 42],
    [-(2n ** 53n - 1n), -(2 ** 53 - 1)],
    [new Date('2026-11-30T12:00:00Z'), '2026-11-30T12:00:00.000Z'],
    [
      [1n, 2.5],
      [1, 2.5],
    ],
  ])('%p', (value, cell) => {
    expect(cellOf(value, 'c')).toEqual(cell);
  });

  it('refuses an int64 no number holds exactly, and binary data, naming the column', () => {
    expect(() => cellOf(2n ** 60n, 'id')).toThrow(
      'column "id": the int64 1152921504606846976 is beyond ±2^53 and has no exact number value',
    );
    expect(() => cellOf(new Uint8Array([1]), 'blob')).toThrow(
      'column "blob": expected a number or text, got binary data',
    );
  });
});

describe('a Parquet chunk reads only the footer and its own row groups', () => {
  it('ranged reads inside the footer or the chunk’s row groups, far less than the file', async () => {
    const { app } = await sampleApp();
    const { model } = await new ModelCache(app.repository, 1).get('iris', 1);
    const { chunkBytes, layout } = await twoGroupChunkBytes();
    const input = await describeParquet(memorySource(irisFile), 'mem://', 'rows.parquet');
    const job: BatchJob = {
      kind: 'modelfleet-batch',
      input,
      model: 'iris',
      version: 1,
      variant: 'primary',
      stage: 'local',
      chunkBytes,
      chunks: 0,
      createdAt: new Date(0).toISOString(),
    };
    const chunks = chunksOf(job);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    const chunk = chunks[1] as ChunkRange;
    const source = memorySource(irisFile);
    const output = openStore(`file://${tempDir()}`, {});
    const marker = await processChunk(chunk, {
      job,
      source,
      output,
      model,
      limits: { maxTensorElements: 1 << 26 },
    });
    expect(marker).toEqual({ index: 1, rows: (chunk.rows?.end ?? 0) - (chunk.rows?.first ?? 0), errors: [] });
    const first = layout.rowGroups[chunk.rowGroups?.first ?? 0];
    const last = layout.rowGroups[(chunk.rowGroups?.end ?? 0) - 1];
    const groupsFrom = first?.start ?? 0;
    const groupsTo = (last?.start ?? 0) + (last?.bytes ?? 0);
    // The magic at the start and the footer's window, then only this chunk's row groups.
    const [head, tail, ...data] = source.reads;
    expect(head).toEqual([0, 4]);
    expect(tail).toEqual([Math.max(0, irisFile.byteLength - 64 * 1024), irisFile.byteLength]);
    expect(data.length).toBeGreaterThan(0);
    for (const [start, end] of data) {
      expect({ start, end, inside: start >= groupsFrom && end <= groupsTo }).toEqual({
        start,
        end,
        inside: true,
      });
    }
    expect(data.reduce((sum, [start, end]) => sum + (end - start), 0)).toBeLessThanOrEqual(
      groupsTo - groupsFrom,
    );
    expect(groupsTo - groupsFrom).toBeLessThan(irisFile.byteLength / 2);
  });
});

describe('modelfleet batch on Parquet, on the storage emulators', () => {
  it('Azurite: 24,000 rows in six row groups, predictions in order equal to the same rows as CSV and to the engine', async () => {
    const { url, settings, env } = await setUp('azure');
    const { chunkBytes } = await twoGroupChunkBytes();
    const summary = await batchJson(
      [
        `${url}/in/rows.parquet`,
        '--model',
        'iris',
        '--out',
        `${url}/out`,
        '--chunk-size',
        String(chunkBytes),
      ],
      env,
    );
    expect(summary).toMatchObject({ rows: ROWS, errors: 0, resumed: false });
    expect(summary.job.input).toMatchObject({ format: 'parquet', header: FEATURES });
    expect(summary.job.chunks).toBeGreaterThanOrEqual(3);
    expect(summary.job.chunks).toBeLessThan(GROUP_ROWS.length);
    // The plan the Distributed Map reads: whole row groups, each once, in order.
    const output = openStore(`${url}/out`, settings);
    const plan = await output.get('_plan.json');
    const items = plan.status === 'ok' ? (JSON.parse(plan.body.toString('utf8')) as ChunkRange[]) : [];
    expect(items.flatMap((item) => [item.rowGroups?.first, item.rowGroups?.end])).toEqual(
      items.flatMap((_, i) => [i === 0 ? 0 : items[i - 1]?.rowGroups?.end, items[i]?.rowGroups?.end]),
    );
    expect(items.at(-1)?.rows?.end).toBe(ROWS);
    const { lines } = await predictionLines(output);
    expect(lines.length).toBe(ROWS);
    expect(lines).toEqual(await expectedLines());

    const csv = await batchJson([`${url}/in/rows.csv`, '--model', 'iris', '--out', `${url}/out-csv`], env);
    expect(csv).toMatchObject({ rows: ROWS, errors: 0 });
    expect((await predictionLines(openStore(`${url}/out-csv`, settings))).lines).toEqual(lines);
    // The fixture is what the test says: snappy pages, sepal_width dictionary-encoded.
    const { metadata } = await readFooter(memorySource(irisFile), 'rows.parquet');
    const width = metadata.row_groups[0]?.columns[1]?.meta_data;
    expect(width?.codec).toBe('SNAPPY');
    expect(width?.dictionary_page_offset).toBeDefined();
  });

  it('S3: chunks done by the cloud worker, one half-written, then the CLI resumes; no row lost or repeated', async () => {
    const { url, settings, env } = await setUp('s3');
    const { chunkBytes } = await twoGroupChunkBytes();
    const worker = new BatchWorker({
      repository: `${url}/repository`,
      store: settings,
      outputRoot: `${url}/predictions`,
      model: 'iris',
      stage: 'local',
      chunkBytes,
      smallObjectBytes: 1,
      maxTensorElements: 1 << 26,
    });
    const planned = await worker.plan(`${url}/in`, 'rows.parquet');
    expect(planned).toMatchObject({ out: `${url}/predictions/rows`, resumed: false });
    expect(planned.chunks).toBeGreaterThanOrEqual(3);
    // Two map iterations finished; a third was killed after part of its part file, before its marker.
    await worker.chunk(planned.out, 0);
    await worker.chunk(planned.out, 2);
    const output = openStore(planned.out, settings);
    await output.put('part-00001.jsonl', Buffer.from('{"half":\n'));

    const args = [
      `${url}/in/rows.parquet`,
      '--model',
      'iris',
      '--out',
      planned.out,
      '--chunk-size',
      String(chunkBytes),
    ];
    const resumed = await batchJson(args, env);
    expect(resumed).toMatchObject({ rows: ROWS, errors: 0, resumed: true, skippedChunks: 2 });
    const want = await expectedLines();
    expect((await predictionLines(output)).lines).toEqual(want);

    // A lost marker: that chunk alone is done again, its part overwritten whole.
    const [bucket, ...prefix] = planned.out.slice('s3://'.length).split('/');
    await new S3Client({
      endpoint: settings.s3Endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    }).send(new DeleteObjectCommand({ Bucket: bucket, Key: [...prefix, '_chunks', '00000.json'].join('/') }));
    expect((await output.get('_chunks/00000.json')).status).toBe('not-found');
    const again = await batchJson(args, env);
    expect(again).toMatchObject({ rows: ROWS, resumed: true, skippedChunks: planned.chunks - 1 });
    expect((await predictionLines(output)).lines).toEqual(want);

    // The input replaced under a planned job: a map iteration refuses rather than mix two files.
    await openStore(`${url}/in`, settings).put(
      'rows.parquet',
      parquetOf(
        FEATURES.map((name, j) => ({ name, type: 'DOUBLE', data: rows.map((row) => row[j] as number) })),
        8000,
      ),
    );
    await expect(worker.chunk(planned.out, 1)).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/^rows\.parquet: the file changed since the job was planned/),
    });
  });
});

describe('modelfleet batch on local Parquet files', () => {
  const repositoryArgs = async () => ['--repository', (await sampleApp()).app.repository.store.url];

  it('a null and an int64 beyond 2^53 are row errors with their row numbers; GZIP pages; --format parquet', async () => {
    const dir = tempDir();
    // 800 rows in two row groups of 400 (two chunks); the others score as the same rows in CSV.
    const random = seededRandom(31);
    const table = Array.from({ length: 800 }, () => [
      Number((4 + random() * 4).toFixed(2)),
      2 + Math.floor(random() * 3),
      Number((1 + random() * 6).toFixed(1)),
      Number((0.1 + random() * 2.4).toFixed(2)),
    ]);
    const file = parquetOf(
      [
        {
          name: 'sepal_length',
          type: 'DOUBLE',
          data: table.map((row, i) => (i === 1 ? null : (row[0] as number))),
        },
        {
          name: 'sepal_width',
          type: 'INT64',
          data: table.map((row, i) => (i === 403 ? 2n ** 60n : BigInt(row[1] as number))),
        },
        { name: 'petal_length', type: 'FLOAT', data: table.map((row) => row[2] as number) },
        { name: 'petal_width', type: 'DOUBLE', data: table.map((row) => row[3] as number) },
      ],
      400,
      { codec: 'GZIP', compressors: { GZIP: (input: Uint8Array) => gzipSync(input) } },
    );
    expect(
      (await readFooter(memorySource(file), 'rows.bin')).metadata.row_groups[1]?.columns[0]?.meta_data?.codec,
    ).toBe('GZIP');
    writeFileSync(path.join(dir, 'rows.bin'), file);
    writeFileSync(path.join(dir, 'rows.csv'), irisCsv(table));
    const out = path.join(dir, 'out');
    const printed: string[] = [];
    const repository = await repositoryArgs();
    await run(
      [
        'batch',
        path.join(dir, 'rows.bin'),
        '--format',
        'parquet',
        '--model',
        'iris',
        '--out',
        out,
        '--chunk-size',
        '1024',
        ...repository,
      ],
      {},
      (text) => printed.push(text),
    );
    expect(printed.join('\n')).toMatch(
      /^scored 800 rows with iris version 1 \(primary\): 798 predictions, 2 errors/,
    );
    const job = JSON.parse(readFileSync(path.join(out, '_job.json'), 'utf8')) as BatchJob;
    expect(job.chunks).toBe(2);
    const partsOf = (folder: string, parts: number) =>
      Array.from({ length: parts }, (_, i) => `part-0000${i}.jsonl`).flatMap((part) =>
        readFileSync(path.join(folder, part), 'utf8').split('\n').slice(0, -1),
      );
    const lines = partsOf(out, 2);
    expect(lines.length).toBe(800);
    expect(lines.flatMap((line, i) => (line === 'null' ? [i] : []))).toEqual([1, 403]);
    const errors = readFileSync(path.join(out, 'errors.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(errors).toEqual([
      { row: 1, offset: 1, error: 'column "sepal_length": expected a number, got an empty cell' },
      {
        row: 403,
        offset: 403,
        error:
          'column "sepal_width": the int64 1152921504606846976 is beyond ±2^53 and has no exact number value',
      },
    ]);
    await run(
      ['batch', path.join(dir, 'rows.csv'), '--model', 'iris', '--out', path.join(dir, 'csv'), ...repository],
      {},
      () => {},
    );
    const csvLines = partsOf(path.join(dir, 'csv'), 1);
    expect(lines.filter((_, i) => i !== 1 && i !== 403)).toEqual(
      csvLines.filter((_, i) => i !== 1 && i !== 403),
    );
  });

  it('a column the model does not take: the same row errors as the same rows in CSV', async () => {
    const dir = tempDir();
    const data = [
      [1, 5.1, 3.5, 1.4, 0.2],
      [2, 6.7, 3.1, 5.2, 2.3],
    ];
    const names = ['id', ...FEATURES];
    writeFileSync(
      path.join(dir, 'extra.parquet'),
      parquetOf(
        names.map((name, j) => ({
          name,
          type: j === 0 ? 'INT64' : 'DOUBLE',
          data: data.map((row) => (j === 0 ? BigInt(row[0] as number) : (row[j] as number))),
        })),
        2,
      ),
    );
    writeFileSync(
      path.join(dir, 'extra.csv'),
      `${names.join(',')}\n${data.map((row) => row.join(',')).join('\n')}\n`,
    );
    for (const name of ['extra.parquet', 'extra.csv']) {
      await run(
        [
          'batch',
          path.join(dir, name),
          '--model',
          'iris',
          '--out',
          path.join(dir, name.replace('.', '-')),
          ...(await repositoryArgs()),
        ],
        {},
        () => {},
      );
    }
    const errorsOf = (folder: string) =>
      readFileSync(path.join(dir, folder, 'errors.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => {
          const { row, error } = JSON.parse(line) as { row: number; error: string };
          return { row, error };
        });
    expect(errorsOf('extra-parquet')).toEqual(errorsOf('extra-csv'));
    expect(errorsOf('extra-parquet')).toEqual([
      { row: 0, error: expect.stringContaining('unknown column "id"') },
      { row: 1, error: expect.stringContaining('unknown column "id"') },
    ]);
  });

  it('refuses a file that is not Parquet, a truncated one and an unsupported codec, naming the file', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'rows.parquet'), `${FEATURES.join(',')}\n5.1,3.5,1.4,0.2\n`);
    writeFileSync(path.join(dir, 'cut.parquet'), irisFile.subarray(0, 5000));
    const lz4 = parquetOf([{ name: 'sepal_length', type: 'DOUBLE', data: [1, 2, 3] }], 3, {
      codec: 'LZ4_RAW',
      compressors: { LZ4_RAW: (input: Uint8Array) => input },
    });
    writeFileSync(path.join(dir, 'lz4.parquet'), lz4);
    // Row group 3's first page header overwritten: chunk 0 is scored, chunk 1 fails naming it.
    const { chunkBytes, layout } = await twoGroupChunkBytes();
    const corrupt = Buffer.from(irisFile);
    corrupt.fill(0xff, layout.rowGroups[3]?.start, (layout.rowGroups[3]?.start ?? 0) + 64);
    writeFileSync(path.join(dir, 'corrupt.parquet'), corrupt);
    const batch = async (name: string) =>
      run(
        [
          'batch',
          path.join(dir, name),
          '--chunk-size',
          String(chunkBytes),
          '--model',
          'iris',
          '--out',
          path.join(dir, `out-${name}`),
          ...(await repositoryArgs()),
        ],
        {},
        () => {},
      );
    await expect(batch('rows.parquet')).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(
        /^rows\.parquet: expected a Parquet file \("PAR1" at its start and end.*got "sepa" at its start$/,
      ),
    });
    await expect(batch('cut.parquet')).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^cut\.parquet: expected a Parquet file .* at its end$/),
    });
    await expect(batch('lz4.parquet')).rejects.toMatchObject({
      status: 400,
      message:
        'lz4.parquet: row group 0, column "sepal_length" is compressed with LZ4_RAW; supported codecs: UNCOMPRESSED, SNAPPY, GZIP, BROTLI',
    });
    await expect(batch('corrupt.parquet')).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^corrupt\.parquet: row group 3 does not decode as Parquet \(.+\)$/),
    });
    expect(readFileSync(path.join(dir, 'out-corrupt.parquet', '_chunks', '00000.json'), 'utf8')).toMatch(
      /"rows":8000/,
    );
  });
});
