/**
 * `modelfleet batch` end to end on the storage emulators: 100,000 rows in, 100,000 predictions out
 * in order, equal to a direct engine run on all rows and to the online endpoint on a sample; and a
 * run killed after some chunks resumes without losing or repeating a row.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { run } from '../../scripts/cli';
import type { BatchSummary } from '../../shared/batch/job';
import { runInference } from '../../shared/serving/inference';
import { ModelCache } from '../../shared/serving/model-cache';
import { type ModelStore, openStore } from '../../shared/store';
import { repositoryLocation, type StoreKind } from '../storage/stores';
import { cliEnv, predictionLines, publishIris } from '../support/batch';
import { json, postJson, removeTempDirs, sampleApp, tempDir } from '../support/fixtures';
import { ROOT } from '../support/processes';
import { seededRandom } from '../support/random';

afterAll(removeTempDirs);

const ROWS = 100_000;
const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
/** ≈ 1.9 MB of CSV in chunks of 64 KiB (≈ 30), so that a run can be killed between them. */
const CHUNK_BYTES = 64 * 1024;

function irisCsv(): { text: string; values: Float32Array } {
  const random = seededRandom(19);
  const values = new Float32Array(ROWS * 4);
  const lines = [FEATURES.join(',')];
  for (let row = 0; row < ROWS; row++) {
    const cells = [4 + random() * 4, 2 + random() * 2.5, 1 + random() * 6, 0.1 + random() * 2.4].map((v) =>
      Number(v.toFixed(2)),
    );
    cells.forEach((cell, j) => {
      values[row * 4 + j] = cell;
    });
    lines.push(cells.join(','));
  }
  return { text: `${lines.join('\n')}\n`, values };
}

interface Setup {
  env: NodeJS.ProcessEnv;
  input: string;
  out: string;
  output: ModelStore;
  values: Float32Array;
  expected: string[];
}

const irisData = irisCsv();
const CHUNKS = Math.ceil((Buffer.byteLength(irisData.text) - FEATURES.join(',').length - 1) / CHUNK_BYTES);
let direct: Promise<string[]> | undefined;

/** Every row's prediction line from one session.run over all 100,000 rows. */
async function directLines(): Promise<string[]> {
  direct ??= (async () => {
    const { app } = await sampleApp();
    const { model } = await new ModelCache(app.repository, 1).get('iris', 1);
    const { outputs } = await runInference(model, {
      inputs: new Map([['input', { name: 'input', shape: [ROWS, 4], data: irisData.values }]]),
      outputs: ['probabilities', 'label'],
    });
    const [probabilities, label] = outputs;
    return Array.from({ length: ROWS }, (_, row) =>
      JSON.stringify({
        probabilities: probabilities?.data?.slice(row * 3, row * 3 + 3),
        label: label?.data?.[row],
      }),
    );
  })();
  return direct;
}

async function setUp(kind: StoreKind): Promise<Setup> {
  const { url, settings } = await repositoryLocation(kind);
  const env = cliEnv(`${url}/repository`, settings);
  await publishIris(env, ['--sample', path.join(ROOT, 'samples', 'iris', 'sample.json')]);
  const inputStore = openStore(`${url}/in`, settings);
  await inputStore.put('rows.csv', Buffer.from(irisData.text));
  const out = `${url}/out`;
  return {
    env,
    input: `${url}/in/rows.csv`,
    out,
    output: openStore(out, settings),
    values: irisData.values,
    expected: await directLines(),
  };
}

function cliBundle(): string {
  const file = path.join(ROOT, 'node_modules', '.cache', 'modelfleet-test', `cli-${process.pid}.js`);
  buildSync({
    entryPoints: [path.join(ROOT, 'scripts', 'cli.ts')],
    bundle: true,
    platform: 'node',
    packages: 'external',
    outfile: file,
    logLevel: 'warning',
  });
  return file;
}

describe('modelfleet batch on the storage emulators', () => {
  it('Azurite: 100,000 rows in, 100,000 predictions out in order, equal to the engine and the online endpoint', async () => {
    const setup = await setUp('azure');
    const printed: string[] = [];
    await run(
      [
        'batch',
        setup.input,
        '--model',
        'iris',
        '--out',
        setup.out,
        '--chunk-size',
        String(CHUNK_BYTES),
        '--json',
      ],
      setup.env,
      (text) => printed.push(text),
    );
    const summary = JSON.parse(printed.join('\n')) as BatchSummary & { resumed: boolean };
    expect(summary).toMatchObject({ rows: ROWS, errors: 0, resumed: false });
    expect(summary.job).toMatchObject({ model: 'iris', version: 1, variant: 'primary', chunks: CHUNKS });
    const { lines } = await predictionLines(setup.output);
    expect(lines.length).toBe(ROWS);
    expect(lines).toEqual(setup.expected);
    // The online endpoint, row by row for a sample of rows, answers the same.
    const { app } = await sampleApp();
    const random = seededRandom(3);
    for (let i = 0; i < 40; i++) {
      const row = Math.floor(random() * ROWS);
      const cells = Array.from(setup.values.subarray(row * 4, row * 4 + 4));
      const response = await app.handle(
        postJson('/v2/models/iris/infer', {
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: cells }],
        }),
      );
      expect(response.status).toBe(200);
      const outputs = json(response)['outputs'] as { name: string; data: unknown[] }[];
      const byName = Object.fromEntries(outputs.map((output) => [output.name, output.data]));
      expect(JSON.parse(lines[row] as string)).toEqual({
        probabilities: byName['probabilities'],
        label: byName['label']?.[0],
      });
    }
  });

  it('S3: a run killed after some chunks resumes, skipping them; no row lost or repeated', async () => {
    const setup = await setUp('s3');
    const cli = cliBundle();
    const args = [
      cli,
      'batch',
      setup.input,
      '--model',
      'iris',
      '--out',
      setup.out,
      '--chunk-size',
      String(CHUNK_BYTES),
    ];
    // Small runs per chunk so that the chunks take long enough to be killed between, even on a
    // fast machine; the resumed run uses the default.
    const child: ChildProcess = spawn(process.execPath, [...args, '--batch-rows', '16'], {
      cwd: ROOT,
      env: { ...process.env, ...setup.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<string | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    let done: string[] = [];
    for (let waited = 0; done.length < 2; waited += 25) {
      if (waited > 60_000 || child.exitCode !== null) throw new Error(`no chunks done in time:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
      done = await setup.output.list('_chunks');
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const before = await setup.output.list('_chunks');
    expect(before.length).toBeLessThan(CHUNKS);
    expect((await setup.output.get('_SUCCESS.json')).status).toBe('not-found');

    const resumed = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const second = spawn(process.execPath, [...args, '--json'], {
        cwd: ROOT,
        env: { ...process.env, ...setup.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      second.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      second.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
      });
      second.once('exit', (code) => resolve({ code, stdout: out, stderr: err }));
    });
    expect(resumed.stderr).not.toMatch(/modelfleet: error/);
    expect(resumed.code).toBe(0);
    const summary = JSON.parse(resumed.stdout) as BatchSummary & { resumed: boolean; skippedChunks: number };
    expect(summary).toMatchObject({ rows: ROWS, errors: 0, resumed: true });
    expect(summary.skippedChunks).toBe(before.length);
    const { lines } = await predictionLines(setup.output);
    expect(lines.length).toBe(ROWS);
    expect(lines).toEqual(setup.expected);
  });

  it('a local file with bad rows: one output line per row (null where it failed) and errors.jsonl by row number', async () => {
    const { app } = await sampleApp();
    const dir = tempDir();
    const input = path.join(dir, 'rows.csv');
    writeFileSync(
      input,
      `${FEATURES.join(',')}\n5.1,3.5,1.4,0.2\n\n6.7,three,5.2,2.3\r\n4.9,3,1.4,0.2\n1,2\n`,
    );
    const out = path.join(dir, 'out');
    const printed: string[] = [];
    const progress: string[] = [];
    await run(
      [
        'batch',
        input,
        '--model',
        'iris',
        '--out',
        out,
        '--repository',
        app.repository.store.url,
        '--progress',
      ],
      {},
      (text) => printed.push(text),
      { progress: { isTTY: false, write: (text) => progress.push(text) } },
    );
    expect(printed.join('\n')).toMatch(
      /^scored 4 rows with iris version 1 \(primary\): 2 predictions, 2 errors; output file:\/\//,
    );
    expect(progress.join('')).toMatch(/rows 4 {2}[\d,]+ rows\/s {2}chunk 1\/1 {2}100% {2}ETA 0s/);
    const part = readFileSync(path.join(out, 'part-00000.jsonl'), 'utf8').split('\n');
    expect(part.map((line) => (line === 'null' ? 'null' : line === '' ? '' : 'ok'))).toEqual([
      'ok',
      'null',
      'ok',
      'null',
      '',
    ]);
    const errors = readFileSync(path.join(out, 'errors.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(errors).toEqual([
      { row: 1, offset: 67, error: expect.stringContaining('"sepal_width"') },
      { row: 3, offset: 100, error: 'CSV: 2 cells, the header names 4 columns' },
    ]);
    // Done is done: running it again changes nothing and says so.
    printed.length = 0;
    await run(
      ['batch', input, '--model', 'iris', '--out', out, '--repository', app.repository.store.url],
      {},
      (text) => printed.push(text),
    );
    expect(printed.join('\n')).toMatch(/^resumed: 1 of 1 chunks were done; scored 4 rows/);
    // Another input into the same output is refused, naming the difference.
    writeFileSync(path.join(dir, 'other.csv'), `${FEATURES.join(',')}\n1,2,3,4\n`);
    await expect(
      run(
        [
          'batch',
          path.join(dir, 'other.csv'),
          '--model',
          'iris',
          '--out',
          out,
          '--repository',
          app.repository.store.url,
        ],
        {},
        () => {},
      ),
    ).rejects.toThrow(/already holds a job with another input/);
  });
});
