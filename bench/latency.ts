/**
 * Section 1 and 2 of the bench: warm in-process latency, forked by bench/run.ts with stdout sent
 * to /dev/null (the default metric sink writes one JSON line per request there, as in Lambda).
 * Variants are measured in interleaved rounds so background load hits them alike.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import * as ort from 'onnxruntime-node';
import { createHandler } from '../functions/aws/handler';
import { emfSink } from '../functions/aws/metrics';
import { createApp } from '../shared/app';
import { parseConfig } from '../shared/config';
import { createSession } from '../shared/serving/native-session';
import { silentLogger } from '../shared/telemetry/log';
import { discardSink, jsonLineSink, type RequestMetricEvent } from '../shared/telemetry/metric-event';
import { type MinimalRequest, minimalPredict } from './minimal';
import {
  BENCH_API_KEY,
  BENCH_SECURITY_ENV,
  type BenchModel,
  benchRepository,
  binaryRequest,
  cnnModel,
  jsonRequest,
  STAGE,
  tabularModel,
} from './models';
import { type ProfileRow, profileCalls } from './profile';
import { type Summary, summarize } from './stats';

export interface LatencyResult {
  model: string;
  bodyBytes: number;
  binaryBodyBytes: number;
  variants: Record<string, Summary>;
  /** Where the AWS handler's time goes for this model (self time, top functions). */
  profile: ProfileRow[];
}

type Call = () => Promise<unknown>;

function v2Event(
  model: string,
  body: string,
  headers: Record<string, string>,
  base64 = false,
): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: `/v2/models/${model}/infer`,
    rawQueryString: '',
    headers: {
      'content-type': 'application/json',
      host: 'example.execute-api.aws',
      'x-api-key': BENCH_API_KEY,
      ...headers,
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'bench',
      domainName: 'example.execute-api.aws',
      domainPrefix: 'example',
      http: {
        method: 'POST',
        path: `/v2/models/${model}/infer`,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'bench',
      },
      requestId: 'bench',
      routeKey: '$default',
      stage: '$default',
      time: '27/Nov/2026:00:00:00 +0000',
      timeEpoch: 0,
    },
    body,
    isBase64Encoded: base64,
  };
}

/** What a developer writes in ten lines: no validation, no routing, no metrics. */
function minimalHandler(session: ort.InferenceSession) {
  return async (event: { body: string }) => ({
    statusCode: 200,
    body: await minimalPredict(session, JSON.parse(event.body) as MinimalRequest),
  });
}

/**
 * The floor for the AWS handler: the minimal handler plus the EMF line any Lambda handler that
 * publishes the same metrics writes: the figures, dimension sets and metadata of modelfleet's
 * document, as one object literal through JSON.stringify, written to stdout after every call.
 */
function minimalEmfHandler(session: ort.InferenceSession, model: string) {
  let coldStart = true;
  return async (event: { body: string }) => {
    const started = performance.now();
    const request = JSON.parse(event.body) as { inputs: { name: string; shape: number[]; data: number[] }[] };
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of request.inputs) {
      feeds[input.name] = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
    }
    const runStarted = performance.now();
    const results = await session.run(feeds);
    const inferenceMs = performance.now() - runStarted;
    const outputs = Object.entries(results).map(([name, tensor]) => ({
      name,
      datatype: 'FP32',
      shape: tensor.dims,
      data: Array.from(tensor.data as Float32Array),
    }));
    const response = { statusCode: 200, body: JSON.stringify({ outputs }) };
    const count = (Name: string) => ({ Name, Unit: 'Count' });
    const ms = (Name: string) => ({ Name, Unit: 'Milliseconds' });
    const emf = {
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: 'modelfleet',
            Dimensions: [['stage', 'model', 'variant', 'version'], ['stage']],
            Metrics: [
              count('Requests'),
              count('Errors'),
              count('ClientErrors'),
              count('ColdStart'),
              ms('Latency'),
              ms('WarmLatency'),
              ms('InferenceLatency'),
              count('CacheHit'),
              count('CacheMiss'),
              count('BatchSize'),
            ],
          },
        ],
      },
      requestId: randomUUID(),
      route: 'infer',
      method: 'POST',
      status: '200',
      coldStart: String(coldStart),
      cache: 'hit',
      stage: STAGE,
      model,
      variant: 'primary',
      version: '1',
      Requests: 1,
      Errors: 0,
      ClientErrors: 0,
      ColdStart: coldStart ? 1 : 0,
      Latency: performance.now() - started,
      WarmLatency: performance.now() - started,
      InferenceLatency: inferenceMs,
      CacheHit: 1,
      CacheMiss: 0,
      BatchSize: request.inputs[0]?.shape[0] ?? 1,
    };
    process.stdout.write(`${JSON.stringify(emf)}\n`);
    coldStart = false;
    return response;
  };
}

async function measure(variants: Record<string, Call>, rounds: number, perRound: number, warmup: number) {
  const samples: Record<string, number[]> = {};
  for (const [name, call] of Object.entries(variants)) {
    samples[name] = [];
    for (let i = 0; i < warmup; i++) await call();
  }
  for (let round = 0; round < rounds; round++) {
    for (const [name, call] of Object.entries(variants)) {
      const out = samples[name] as number[];
      for (let i = 0; i < perRound; i++) {
        const started = performance.now();
        await call();
        out.push(performance.now() - started);
      }
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, summarize(s)]));
}

async function bench(
  model: BenchModel,
  app: ReturnType<typeof createApp>,
  quietApp: ReturnType<typeof createApp>,
  calls: number,
  awsApp: ReturnType<typeof createApp>,
): Promise<LatencyResult> {
  const session = await ort.InferenceSession.create(model.artifact, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  // What modelfleet runs: the same native session, called on this thread without the public API's
  // setImmediate turn (shared/serving/native-session.ts).
  const direct = await createSession(model.artifact);
  const outputNames = direct.outputMetadata.map((meta) => meta.name);
  const body = jsonRequest(model);
  const binary = binaryRequest(model);
  const binaryHeaders = {
    'content-type': 'application/octet-stream',
    'x-api-key': BENCH_API_KEY,
    'inference-header-content-length': String(binary.headerLength),
  };
  const handler = createHandler(awsApp);
  const context = {} as Context;
  const minimal = minimalHandler(session);
  const jsonEvent = v2Event(model.name, body, {});
  const binaryEvent = v2Event(model.name, binary.body.toString('base64'), binaryHeaders, true);
  const path = `/v2/models/${model.name}/infer`;
  const check = (response: { statusCode?: number; status?: number }) => {
    const status = response.statusCode ?? response.status;
    if (status !== 200) throw new Error(`${model.name}: got status ${status}: ${JSON.stringify(response)}`);
    return response;
  };
  const variants: Record<string, Call> = {
    raw: () => session.run({ [model.inputName]: new ort.Tensor('float32', model.values, model.shape) }),
    'raw-direct': () =>
      direct.run({ [model.inputName]: new ort.Tensor('float32', model.values, model.shape) }, outputNames),
    minimal: () => minimal({ body }),
    aws: async () => check(await handler(jsonEvent, context)),
    core: async () =>
      check(
        await app.handle({
          method: 'POST',
          path,
          query: {},
          headers: { 'content-type': 'application/json', 'x-api-key': BENCH_API_KEY },
          body,
        }),
      ),
    'aws-binary': async () => check(await handler(binaryEvent, context)),
    'core-binary': async () =>
      check(await app.handle({ method: 'POST', path, query: {}, headers: binaryHeaders, body: binary.body })),
  };
  // Shows the metric sink's share; on the CNN it is lost in the parse time, so save the run time.
  if (model.name === 'tabular') {
    const quietHandler = createHandler(quietApp);
    // What the AWS handler's metrics cost on their own: the same sink, no request.
    const sink = emfSink();
    const event: RequestMetricEvent = {
      timestamp: new Date().toISOString(),
      requestId: '0f8fad5b-d9cb-469f-a165-70867728950e',
      stage: STAGE,
      route: 'infer',
      method: 'POST',
      status: 200,
      coldStart: false,
      latencyMs: 0.05,
      model: model.name,
      version: 1,
      variant: 'primary',
      inferenceMs: 0.02,
      cache: 'hit',
      batchSize: 1,
    };
    variants['emf'] = async () => sink(event);
    const minimalEmf = minimalEmfHandler(session, model.name);
    variants['minimal-emf'] = () => minimalEmf({ body });
    variants['aws-no-metrics'] = async () => check(await quietHandler(jsonEvent, context));
    variants['core-no-metrics'] = async () =>
      check(
        await quietApp.handle({
          method: 'POST',
          path,
          query: {},
          headers: { 'content-type': 'application/json', 'x-api-key': BENCH_API_KEY },
          body,
        }),
      );
  }
  const rounds = 10;
  const results = await measure(variants, rounds, Math.ceil(calls / rounds), Math.min(500, calls / 10));
  const profile = await profileCalls(
    variants['aws'] as Call,
    Math.min(calls, model.name === 'cnn' ? 500 : 3000),
    15,
  );
  return {
    profile,
    model: model.name,
    bodyBytes: Buffer.byteLength(body),
    binaryBodyBytes: binary.body.byteLength,
    variants: results,
  };
}

async function main(): Promise<void> {
  const calls = Number(process.env['BENCH_CALLS'] ?? 5000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-bench-'));
  try {
    const all = [tabularModel(), cnnModel()];
    await benchRepository(dir, all);
    // BENCH_MODELS=tabular measures one model while iterating on the hot path.
    const only = process.env['BENCH_MODELS']?.split(',');
    const models = only === undefined ? all : all.filter((m) => only.includes(m.name));
    const config = parseConfig({
      ...BENCH_SECURITY_ENV,
      MODELFLEET_STAGE: STAGE,
      MODEL_REPOSITORY: dir,
      DEPLOYMENT_TTL_SECONDS: '30',
    });
    const app = createApp({ config, metrics: jsonLineSink, log: silentLogger });
    const quietApp = createApp({ config, metrics: discardSink, log: silentLogger });
    // The AWS handler as deployed: one EMF line per request.
    const awsApp = createApp({ config, metrics: emfSink(), log: silentLogger });
    const results: LatencyResult[] = [];
    for (const model of models) results.push(await bench(model, app, quietApp, calls, awsApp));
    if (process.send) process.send(results);
    else process.stderr.write(`${JSON.stringify(results, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`latency bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
