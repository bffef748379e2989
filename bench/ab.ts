/**
 * Before/after of a hot-path change, in one process and interleaved: the core (`app.handle`, metric
 * sink discarded), the AWS handler (its EMF line per request) and the core with the
 * local server's JSON-line sink, built from two compiled trees, next to the minimal handler.
 *
 *   git archive <commit> | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/
 *   (cd /tmp/before && npx tsc -p tsconfig.bench.json)
 *   npx tsc -p tsconfig.bench.json && AB_BEFORE=/tmp/before/dist node dist/bench/ab.js >/dev/null
 *
 * AB_VARIANTS (core,aws,line,gcp,live,ready; gcp: the core with the GCP function's Cloud Logging
 * line), AB_CALLS (per variant, default 4000), AB_ROUNDS (20). AB_DOMAIN=1 runs every call, the
 * minimal handler's too, in its own node:domain as functions-framework runs each request (which
 * turns on async hooks for every promise in the process).
 * Results go to stderr; stdout gets the metric lines and EMF documents (send it to /dev/null).
 */
import type * as nodeDomain from 'node:domain';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import * as ort from 'onnxruntime-node';
import type { createHandler } from '../functions/aws/handler';
import type * as awsMetrics from '../functions/aws/metrics';
import type * as gcpHandler from '../functions/gcp/handler';
import type { createApp } from '../shared/app';
import type { parseConfig } from '../shared/config';
import type { ServeRequest } from '../shared/http/request';
import type * as log from '../shared/telemetry/log';
import type * as metrics from '../shared/telemetry/metric-event';
import {
  BENCH_API_KEY,
  BENCH_SECURITY_ENV,
  benchRepository,
  jsonRequest,
  STAGE,
  tabularModel,
} from './models';
import { summarize } from './stats';

interface Build {
  createApp: typeof createApp;
  parseConfig: typeof parseConfig;
  createHandler: typeof createHandler;
  aws: typeof awsMetrics;
  gcp: typeof gcpHandler;
  metrics: typeof metrics;
  log: typeof log;
}

function load(dist: string): Build {
  // The first of the files that exists: builds from before the core moved into rooms name them
  // by their old paths.
  const from = <T>(...files: string[]) => {
    for (const file of files) {
      try {
        return require(path.join(dist, file)) as T;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
      }
    }
    throw new Error(`${dist} has none of ${files.join(', ')}`);
  };
  const handler = from<{ createHandler?: typeof createHandler }>('functions/aws/handler');
  return {
    createApp: from<{ createApp: typeof createApp }>('shared/app').createApp,
    parseConfig: from<{ parseConfig: typeof parseConfig }>('shared/config').parseConfig,
    createHandler:
      handler.createHandler ??
      from<{ createHandler: typeof createHandler }>('functions/aws/middy-handler').createHandler,
    aws: from<typeof awsMetrics>('functions/aws/metrics'),
    gcp: from<typeof gcpHandler>('functions/gcp/handler'),
    metrics: from<typeof metrics>('shared/telemetry/metric-event', 'shared/metrics'),
    log: from<typeof log>('shared/telemetry/log', 'shared/log'),
  };
}

type Call = () => Promise<unknown>;

/** The AWS handler as each build deploys it: Powertools (before the direct EMF) or the EMF sink. */
function awsHandler(b: Build, config: ReturnType<typeof parseConfig>, silent: log.Logger) {
  const aws = b.aws as Partial<typeof awsMetrics> & {
    createMetrics?: () => unknown;
    powertoolsSink?: (metrics: unknown) => metrics.MetricSink;
  };
  const create = b.createHandler as (app: unknown, metrics?: unknown) => ReturnType<typeof createHandler>;
  if (aws.emfSink !== undefined) return create(b.createApp({ config, metrics: aws.emfSink(), log: silent }));
  const emf = aws.createMetrics?.();
  const sink = aws.powertoolsSink?.(emf) ?? b.metrics.discardSink;
  return create(b.createApp({ config, metrics: sink, log: silent }), emf);
}

async function main(): Promise<void> {
  const before = process.env['AB_BEFORE'];
  if (before === undefined) throw new Error('AB_BEFORE: the dist/ directory of the build to compare with');
  const calls = Number(process.env['AB_CALLS'] ?? 4000);
  const rounds = Number(process.env['AB_ROUNDS'] ?? 20);
  const which = (process.env['AB_VARIANTS'] ?? 'core,aws,line').split(',');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-ab-'));
  try {
    const model = tabularModel();
    await benchRepository(dir, [model]);
    const env = { ...BENCH_SECURITY_ENV, MODELFLEET_STAGE: STAGE, MODEL_REPOSITORY: dir };
    const body = jsonRequest(model);
    const headers = { 'content-type': 'application/json', 'x-api-key': BENCH_API_KEY };
    const infer: ServeRequest = {
      method: 'POST',
      path: '/v2/models/tabular/infer',
      query: {},
      headers,
      body,
    };
    const live: ServeRequest = { method: 'GET', path: '/v2/health/live', query: {}, headers: {} };
    const ready: ServeRequest = {
      ...infer,
      method: 'GET',
      path: '/v2/models/tabular/ready',
      body: undefined,
    };
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: infer.path,
      rawQueryString: '',
      headers,
      requestContext: {
        http: { method: 'POST', path: infer.path, sourceIp: '127.0.0.1' },
        stage: '$default',
      },
      body,
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    const session = await ort.InferenceSession.create(model.artifact, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    const variants: Record<string, Call> = {
      // The same minimal handler as bench/latency.ts.
      minimal: async () => {
        const request = JSON.parse(body) as { inputs: { name: string; shape: number[]; data: number[] }[] };
        const feeds: Record<string, ort.Tensor> = {};
        for (const input of request.inputs) {
          feeds[input.name] = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
        }
        const results = await session.run(feeds);
        return JSON.stringify({
          outputs: Object.entries(results).map(([name, t]) => ({
            name,
            datatype: 'FP32',
            shape: t.dims,
            data: Array.from(t.data as Float32Array),
          })),
        });
      },
    };
    const ok = (status: number | undefined) => {
      if (status !== 200) throw new Error(`status ${status}`);
    };
    for (const [label, dist] of [
      ['before', before],
      ['after', path.join(__dirname, '..')],
    ] as const) {
      const b = load(dist);
      const config = b.parseConfig(env);
      const silent = b.log.silentLogger;
      const core = b.createApp({ config, metrics: b.metrics.discardSink, log: silent });
      const lines = b.createApp({ config, metrics: b.metrics.jsonLineSink, log: silent });
      const handler = awsHandler(b, config, silent);
      const gcp = b.createApp({ config, metrics: b.gcp.cloudLoggingSink, log: silent });
      const context = {} as Context;
      const all: Record<string, Call> = {
        core: async () => ok((await core.handle(infer)).status),
        aws: async () => ok(((await handler(event, context)) as { statusCode?: number }).statusCode),
        line: async () => ok((await lines.handle(infer)).status),
        gcp: async () => ok((await gcp.handle(infer)).status),
        live: async () => ok((await core.handle(live)).status),
        ready: async () => ok((await core.handle(ready)).status),
      };
      for (const name of which) {
        const call = all[name];
        if (call !== undefined) variants[`${name}-${label}`] = call;
      }
    }
    if (process.env['AB_DOMAIN'] === '1') {
      const domain = require('node:domain') as typeof nodeDomain;
      for (const [name, call] of Object.entries(variants)) {
        variants[name] = () => domain.create().run(call);
      }
    }
    const samples: Record<string, number[]> = {};
    for (const [name, call] of Object.entries(variants)) {
      samples[name] = [];
      for (let i = 0; i < 500; i++) await call();
    }
    for (let round = 0; round < rounds; round++) {
      for (const [name, call] of Object.entries(variants)) {
        const out = samples[name] as number[];
        for (let i = 0; i < Math.ceil(calls / rounds); i++) {
          const started = performance.now();
          await call();
          out.push(performance.now() - started);
        }
      }
    }
    const minimal = summarize(samples['minimal'] ?? []).p50;
    for (const [name, s] of Object.entries(samples)) {
      const p50 = summarize(s).p50;
      process.stderr.write(
        `${name.padEnd(14)} p50 ${(p50 * 1000).toFixed(1).padStart(6)} µs  ${(p50 / minimal).toFixed(2)}× minimal\n`,
      );
    }
    process.stderr.write(`load average (1 min) ${os.loadavg()[0]?.toFixed(2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`ab failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
