/**
 * Where the core's time goes on the tiny model, in place (issue 21's floor): one request timed
 * phase by phase inside `app.handle`, beside the minimal handler's phases, and how much slower
 * onnxruntime's run gets when other JavaScript ran since the previous run.
 *
 *   npx tsc -p tsconfig.bench.json && node dist/bench/floor.js
 *
 * A diagnostic, not part of `npm run bench`: phases are marked by wrapping the compiled modules'
 * exports (the core's calls between modules go through them) and the native session's run, so it
 * follows the code's structure and may need updating when that changes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ServeRequest } from '../shared/http/request';
import type { OrtSession } from '../shared/serving/onnx';
import {
  BENCH_API_KEY,
  BENCH_SECURITY_ENV,
  benchRepository,
  jsonRequest,
  STAGE,
  tabularModel,
} from './models';
import { markdownTable } from './stats';

type Fn = (...args: unknown[]) => unknown;

let marks: (string | number)[] = [];
const mark = (label: string) => marks.push(label, performance.now());

/** Marks `label>` and `label<` around every call of `owner[key]`. */
function wrap(owner: object, key: string, label: string): void {
  const target = owner as Record<string, Fn>;
  const original = target[key] as Fn;
  target[key] = function (this: unknown, ...args: unknown[]) {
    mark(`${label}>`);
    try {
      return original.apply(this, args);
    } finally {
      mark(`${label}<`);
    }
  };
}

/** The native run inside a DirectSession (shared/serving/native-session.ts), marked as `run`. */
function markNativeRun(session: OrtSession, twice = false): void {
  const holder = session as unknown as { native: { run: Fn; dispose(): void } };
  const native = holder.native;
  holder.native = {
    run: (...args) => {
      if (twice) {
        mark('first run>');
        native.run(...args);
        mark('first run<');
      }
      mark('run>');
      try {
        return native.run(...args);
      } finally {
        mark('run<');
      }
    },
    dispose: () => native.dispose(),
  };
}

const WARMUP = 5_000;
const TIMED = 25_000;

/** Median of each interval between consecutive marks, over the timed requests, in µs. */
async function phases(call: () => Promise<unknown>): Promise<[string, number][]> {
  const spans = new Map<string, number[]>();
  for (let i = 0; i < WARMUP + TIMED; i++) {
    marks = [];
    mark('start');
    await call();
    mark('end');
    if (i < WARMUP) continue;
    for (let j = 2; j < marks.length; j += 2) {
      const key = `${marks[j - 2]} → ${marks[j]}`;
      const list = spans.get(key) ?? [];
      list.push(((marks[j + 1] as number) - (marks[j - 1] as number)) * 1000);
      spans.set(key, list);
    }
  }
  return [...spans].map(([key, list]) => [key, median(list)]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

const us = (value: number) => `${value.toFixed(2)} µs`;

function table(rows: [string, number][]): string {
  const total = rows.reduce((sum, [, value]) => sum + value, 0);
  return markdownTable(['interval', 'median'], [...rows.map(([k, v]) => [k, us(v)]), ['sum', us(total)]]);
}

async function main(): Promise<void> {
  // Wrapped before the core loads: some modules keep a reference to another's export at load.
  wrap(require('../shared/security/body'), 'parseJsonBody', 'parse body');
  wrap(require('../shared/protocol/oip'), 'parseInferRequest', 'read tensors');
  wrap(require('../shared/http/request'), 'jsonResponse', 'JSON response');
  wrap(require('../shared/http/router'), 'matchRoute', 'route');
  wrap(require('../shared/http/finish').ResponseFinisher.prototype, 'seal', 'seal');
  wrap(require('../shared/serving/monitoring').Monitor.prototype, 'record', 'monitor');
  wrap(require('../shared/telemetry/prometheus').PrometheusRegistry.prototype, 'record', 'prometheus');
  const sessions = require('../shared/serving/native-session') as {
    createSession: (artifact: Uint8Array) => Promise<OrtSession>;
  };
  const createSession = sessions.createSession;
  let twice = false;
  sessions.createSession = async (artifact) => {
    const session = await createSession(artifact);
    markNativeRun(session, twice);
    return session;
  };
  const { createApp } = require('../shared/app') as typeof import('../shared/app');
  const { parseConfig } = require('../shared/config') as typeof import('../shared/config');
  const { silentLogger } = require('../shared/telemetry/log') as typeof import('../shared/telemetry/log');
  const { discardSink } =
    require('../shared/telemetry/metric-event') as typeof import('../shared/telemetry/metric-event');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-floor-'));
  try {
    const model = tabularModel();
    await benchRepository(dir, [model]);
    const body = jsonRequest(model);
    const makeApp = async () => {
      const config = parseConfig({ ...BENCH_SECURITY_ENV, MODELFLEET_STAGE: STAGE, MODEL_REPOSITORY: dir });
      const app = createApp({ config, metrics: discardSink, log: silentLogger });
      await app.preload();
      return app;
    };
    const headers = { 'content-type': 'application/json', 'x-api-key': BENCH_API_KEY };
    const infer: ServeRequest = {
      method: 'POST',
      path: `/v2/models/${model.name}/infer`,
      query: {},
      headers,
      body,
    };
    const app = await makeApp();
    const core = await phases(() => app.handle(infer));

    // The minimal handler on the same kind of session (no event-loop turn), phase by phase.
    const session = await sessions.createSession(model.artifact);
    const outputs = session.outputMetadata.map((meta) => meta.name);
    const minimal = async (before?: () => Promise<unknown>) => {
      if (before !== undefined) await before();
      mark('parse');
      const request = JSON.parse(body) as { inputs: { name: string; shape: number[]; data: number[] }[] };
      mark('tensors');
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of request.inputs) {
        feeds[input.name] = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
      }
      const results = await session.run(feeds, outputs);
      mark('outputs');
      return JSON.stringify({
        outputs: Object.entries(results).map(([name, tensor]) => ({
          name,
          datatype: 'FP32',
          shape: tensor.dims,
          data: Array.from(tensor.data as Float32Array),
        })),
      });
    };
    const minimalPhases = await phases(() => minimal());
    const runOf = (rows: [string, number][]) =>
      rows.find(([key]) => key === 'run> → run<')?.[1] ?? Number.NaN;
    const live: ServeRequest = { method: 'GET', path: '/v2/health/live', query: {}, headers: {} };
    const metadata: ServeRequest = { method: 'GET', path: `/v2/models/${model.name}`, query: {}, headers };
    const after = {
      live: runOf(await phases(() => minimal(() => app.handle(live)))),
      metadata: runOf(await phases(() => minimal(() => app.handle(metadata)))),
    };
    twice = true;
    const twiceApp = await makeApp();
    const repeated = await phases(() => twiceApp.handle(infer));
    const first = repeated.find(([key]) => key === 'first run> → first run<')?.[1] ?? Number.NaN;

    process.stdout.write(
      [
        '### The core (`app.handle`, metric sink discarded), between marks',
        '',
        table(core),
        '',
        '### The minimal handler on the same native session',
        '',
        table(minimalPhases),
        '',
        "### onnxruntime's native run, by what ran since the previous run",
        '',
        markdownTable(
          ['the run, in', 'median'],
          [
            ['the minimal handler, nothing else between requests', us(runOf(minimalPhases))],
            ['the minimal handler, a GET /v2/health/live through the core between requests', us(after.live)],
            [
              'the minimal handler, a GET /v2/models/{model} through the core between requests',
              us(after.metadata),
            ],
            ['the core, its first run of a request', us(first)],
            ['the core, the same run again at once (code and data warm)', us(runOf(repeated))],
          ],
        ),
        '',
      ].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`floor bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
