/**
 * Section 5: memory, so users can size a function. One fresh process per model, forked with
 * --expose-gc after another process wrote the model's repository (`node dist/bench/memory.js`
 * prints every model's row): RSS with the
 * runtime loaded and no model, after the stage's preload (the model verified, its session created
 * and warmed up), after serving requests, and the RSS each further session of the same model adds
 * (a canary or shadow version loaded beside the primary costs about that much).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildModel } from '../scripts/lib/onnx-builder';
import { createApp } from '../shared/app';
import { parseConfig } from '../shared/config';
import { createSession } from '../shared/serving/native-session';
import { silentLogger } from '../shared/telemetry/log';
import { discardSink } from '../shared/telemetry/metric-event';
import { seededRandom } from '../test/support/random';
import {
  BENCH_API_KEY,
  BENCH_SECURITY_ENV,
  type BenchModel,
  benchRepository,
  cnnModel,
  jsonRequest,
  STAGE,
  tabularModel,
} from './models';

export interface MemoryRow {
  model: string;
  artifactBytes: number;
  /** Node, onnxruntime and the core loaded, no model: what every instance pays. */
  runtimeMiB: number;
  afterPreloadMiB: number;
  /** After `requests` JSON requests of the bench body (peak RSS of the process so far). */
  servingMiB: number;
  peakMiB: number;
  perSessionMiB: number;
  /** The Lambda memory size this implies (see `impliedLambdaMiB`). */
  lambdaMiB: number;
}

const EXTRA_SESSIONS = 4;
const REQUESTS = 200;
/** Room for request bodies, their parsed form and the response beyond what the bench peak showed. */
const HEADROOM_MIB = 64;

const mib = (bytes: number) => bytes / 2 ** 20;

function settledRss(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return mib(process.memoryUsage().rss);
}

/**
 * Peak RSS with one more session (a canary or shadow version beside the primary) plus a fixed
 * headroom, rounded up to a multiple of 64 MB and at least Lambda's minimum of 128 MB. Lambda's
 * memory size is the whole sandbox's limit and also sets its CPU share, so this is a floor for
 * correctness, not a recommendation for latency.
 */
export function impliedLambdaMiB(peakMiB: number, perSessionMiB: number): number {
  const needed = peakMiB + perSessionMiB + HEADROOM_MIB;
  return Math.max(128, Math.ceil(needed / 64) * 64);
}

const MLP = { inputs: 256, hidden: 2048, outputs: 10 };

/**
 * A model with weight to it, for the per-session figure: an MLP 256 → 2048 → 2048 → 10 (≈ 4.7 M
 * float weights, ≈ 19 MB of ONNX). The two latency models are a few KB, so their sessions cost
 * next to nothing and only the runtime shows.
 */
export function mlpModel(): BenchModel {
  const random = seededRandom(5);
  const weights = (rows: number, columns: number) =>
    Array.from({ length: rows * columns }, () => (random() - 0.5) / Math.sqrt(rows));
  const artifact = buildModel({
    name: 'mlp',
    inputs: [{ name: 'x', type: 'FLOAT', shape: ['batch', MLP.inputs] }],
    outputs: [{ name: 'y', type: 'FLOAT', shape: ['batch', MLP.outputs] }],
    initializers: [
      { name: 'W1', type: 'FLOAT', dims: [MLP.inputs, MLP.hidden], values: weights(MLP.inputs, MLP.hidden) },
      { name: 'W2', type: 'FLOAT', dims: [MLP.hidden, MLP.hidden], values: weights(MLP.hidden, MLP.hidden) },
      {
        name: 'W3',
        type: 'FLOAT',
        dims: [MLP.hidden, MLP.outputs],
        values: weights(MLP.hidden, MLP.outputs),
      },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'W1'], outputs: ['h1'] },
      { op: 'Relu', inputs: ['h1'], outputs: ['a1'] },
      { op: 'MatMul', inputs: ['a1', 'W2'], outputs: ['h2'] },
      { op: 'Relu', inputs: ['h2'], outputs: ['a2'] },
      { op: 'MatMul', inputs: ['a2', 'W3'], outputs: ['y'] },
    ],
  });
  const values = Float32Array.from({ length: MLP.inputs }, () => random());
  return { name: 'mlp', artifact, inputName: 'x', shape: [1, MLP.inputs], values };
}

export const MEMORY_MODELS = ['tabular', 'cnn', 'mlp'] as const;

/** Writes `model` to a folder repository in `dir`, deployed on the bench stage, and its request. */
async function prepare(dir: string, model: BenchModel): Promise<void> {
  await benchRepository(path.join(dir, REPOSITORY), [model]);
  writeFileSync(path.join(dir, REQUEST_FILE), jsonRequest(model));
  writeFileSync(path.join(dir, ARTIFACT_FILE_COPY), model.artifact);
}

// The repository in its own folder: the folder store would list the files beside it as models.
const REPOSITORY = 'repository';
const REQUEST_FILE = 'bench-request.json';
const ARTIFACT_FILE_COPY = 'bench-model.onnx';

/** Measures the model `prepare` wrote, in a process that never held the model's generator. */
async function measure(dir: string, name: string): Promise<MemoryRow> {
  const config = parseConfig({
    ...BENCH_SECURITY_ENV,
    MODELFLEET_STAGE: STAGE,
    MODEL_REPOSITORY: path.join(dir, REPOSITORY),
    DEPLOYMENT_TTL_SECONDS: '30',
  });
  const app = createApp({ config, metrics: discardSink, log: silentLogger });
  const runtimeMiB = settledRss();
  const report = await app.preload();
  if (report.failed.length > 0) throw new Error(`preload failed: ${JSON.stringify(report.failed)}`);
  await app.settled();
  const afterPreloadMiB = settledRss();
  const request = {
    method: 'POST',
    path: `/v2/models/${name}/infer`,
    query: {},
    headers: { 'content-type': 'application/json', 'x-api-key': BENCH_API_KEY },
    body: readFileSync(path.join(dir, REQUEST_FILE), 'utf8'),
  };
  let peak = mib(process.memoryUsage().rss);
  for (let i = 0; i < REQUESTS; i++) {
    const response = await app.handle(request);
    if (response.status !== 200) throw new Error(`${name}: status ${response.status}`);
    peak = Math.max(peak, mib(process.memoryUsage().rss));
  }
  const servingMiB = settledRss();
  peak = Math.max(peak, servingMiB);
  const artifact = readFileSync(path.join(dir, ARTIFACT_FILE_COPY));
  const sessions = [];
  for (let i = 0; i < EXTRA_SESSIONS; i++) sessions.push(await createSession(artifact));
  const perSessionMiB = Math.max(0, (settledRss() - servingMiB) / EXTRA_SESSIONS);
  for (const session of sessions) await session.release();
  return {
    model: name,
    artifactBytes: artifact.byteLength,
    runtimeMiB,
    afterPreloadMiB,
    servingMiB,
    peakMiB: peak,
    perSessionMiB,
    lambdaMiB: impliedLambdaMiB(peak, perSessionMiB),
  };
}

function forked(args: string[]): Promise<MemoryRow | undefined> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, args, {
      execArgv: ['--expose-gc'],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let tail = '';
    let row: MemoryRow | undefined;
    child.stderr?.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.on('message', (message) => {
      row = message as MemoryRow;
    });
    child.once('exit', (code) =>
      code === 0
        ? resolve(row)
        : reject(new Error(`memory bench ${args.join(' ')} exited with ${code}:\n${tail}`)),
    );
  });
}

/** One row per model: each prepared in one process and measured in a fresh one. */
export async function measureMemory(models: readonly string[] = MEMORY_MODELS): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  for (const name of models) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-memory-'));
    try {
      await forked(['prepare', dir, name]);
      const row = await forked(['measure', dir, name]);
      if (row === undefined) throw new Error(`memory bench ${name}: no result`);
      rows.push(row);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const [command, dir, name] = process.argv.slice(2);
  if (command === 'prepare' && dir !== undefined && name !== undefined) {
    await prepare(dir, name === 'cnn' ? cnnModel() : name === 'mlp' ? mlpModel() : tabularModel());
    return;
  }
  if (command === 'measure' && dir !== undefined && name !== undefined) {
    const row = await measure(dir, name);
    if (process.send) process.send(row);
    else process.stderr.write(`${JSON.stringify(row, null, 2)}\n`);
    return;
  }
  process.stderr.write(`${JSON.stringify(await measureMemory(), null, 2)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`memory bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
