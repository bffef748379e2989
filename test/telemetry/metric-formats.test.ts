import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createHandler } from '../../functions/aws/handler';
import { emfSink } from '../../functions/aws/metrics';
import { invocationLogSink } from '../../functions/azure/handler';
import { cloudLoggingSink } from '../../functions/gcp/handler';
import metricsSpec from '../../infra/aws/metrics.json';
import type { App } from '../../shared/app';
import type { ModelRepository } from '../../shared/repository/repository';
import { emfLines } from '../../shared/telemetry/emf';
import type { MetricSink, RequestMetricEvent } from '../../shared/telemetry/metric-event';
import {
  GCP_LABELS_KEY,
  metricFigures,
  toAzureLogRecord,
  toCloudLoggingEntry,
} from '../../shared/telemetry/metric-formats';
import { azureFunctions } from '../conformance/targets';
import { buildTestApp, removeTempDirs, sampleRepository, sampleRequestText } from '../support/fixtures';
import { notFoundEvent, successEvent } from '../support/metric-events';

let repository: ModelRepository;
beforeAll(async () => {
  repository = await sampleRepository();
});
afterAll(removeTempDirs);

const iris = sampleRequestText('iris');

function appWith(metrics: MetricSink): App {
  // Default-deny on dev is tested in test/security; these tests are about metric output.
  return buildTestApp(repository, {
    env: { MODELFLEET_STAGE: 'dev' },
    config: { authRequired: false },
    metrics,
  }).app;
}

/** Runs `act` and returns every JSON line it printed on stdout (the metric channel on all clouds). */
async function stdoutJson(act: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  try {
    await act();
  } finally {
    spy.mockRestore();
  }
  return lines.map((line) => JSON.parse(line));
}

const success: RequestMetricEvent = successEvent;
const failure: RequestMetricEvent = notFoundEvent;

describe('pure formatters', () => {
  it('give every cloud the same figures, with units, and 0/1 flags so averages are rates', () => {
    expect(metricFigures(success)).toEqual([
      { name: 'Requests', unit: 'Count', value: 1 },
      { name: 'Errors', unit: 'Count', value: 0 },
      { name: 'ClientErrors', unit: 'Count', value: 0 },
      { name: 'ColdStart', unit: 'Count', value: 1 },
      { name: 'Latency', unit: 'Milliseconds', value: 12.346 },
      { name: 'InferenceLatency', unit: 'Milliseconds', value: 0.25 },
      { name: 'ModelLoadTime', unit: 'Milliseconds', value: 80 },
      { name: 'CacheHit', unit: 'Count', value: 0 },
      { name: 'CacheMiss', unit: 'Count', value: 1 },
      { name: 'BatchSize', unit: 'Count', value: 2 },
    ]);
    expect(metricFigures({ ...failure, status: 503 }).slice(1, 3)).toEqual([
      { name: 'Errors', unit: 'Count', value: 1 },
      { name: 'ClientErrors', unit: 'Count', value: 0 },
    ]);
  });

  it('EMF: model dimensions for model requests, route dimensions otherwise, context as metadata', () => {
    const document = (event: RequestMetricEvent) => JSON.parse(emfLines(event, 'modelfleet'));
    const model = document(success);
    expect(model['_aws']).toMatchObject({
      Timestamp: Date.parse('2026-11-27T12:00:00.000Z'),
      CloudWatchMetrics: [
        { Namespace: 'modelfleet', Dimensions: [['stage', 'model', 'variant', 'version'], ['stage']] },
      ],
    });
    expect(model).toMatchObject({
      model: 'iris',
      variant: 'canary',
      version: '3',
      stage: 'prod',
      requestId: 'r-1',
      route: 'infer',
      status: '200',
      coldStart: 'true',
      cache: 'miss',
    });
    const route = document(failure);
    expect(route['_aws'].CloudWatchMetrics[0].Dimensions).toEqual([['stage', 'route'], ['stage']]);
    const { _aws, ...members } = route;
    const figures = new Set(metricFigures(failure).map((figure) => figure.name));
    expect(Object.fromEntries(Object.entries(members).filter(([name]) => !figures.has(name)))).toEqual({
      stage: 'prod',
      route: 'unknown',
      requestId: 'r-2',
      method: 'GET',
      status: '404',
      coldStart: 'false',
      errorClass: 'not_found',
    });
  });

  it('Cloud Logging: severity by status, string labels, numbers at the top of jsonPayload', () => {
    const entry = toCloudLoggingEntry(success);
    expect(entry).toMatchObject({
      severity: 'INFO',
      message: 'POST infer iris@3/canary 200 12.346ms',
      timestamp: '2026-11-27T12:00:00.000Z',
      type: 'modelfleet.request',
      requestId: 'r-1',
      requests: 1,
      errors: 0,
      latencyMs: 12.346,
      inferenceLatencyMs: 0.25,
      modelLoadTimeMs: 80,
      cacheHit: 0,
      cacheMiss: 1,
      batchSize: 2,
      coldStart: 1,
    });
    expect(entry[GCP_LABELS_KEY]).toEqual({
      model: 'iris',
      variant: 'canary',
      version: '3',
      stage: 'prod',
      route: 'infer',
      method: 'POST',
      status: '200',
      coldStart: 'true',
      cache: 'miss',
    });
    expect(toCloudLoggingEntry(failure)['severity']).toBe('WARNING');
    expect(toCloudLoggingEntry({ ...failure, status: 500, errorClass: 'internal' })['severity']).toBe(
      'ERROR',
    );
    for (const value of Object.values(entry[GCP_LABELS_KEY] as object)) expect(typeof value).toBe('string');
  });

  it('Azure: a level, string properties and numeric measurements', () => {
    expect(toAzureLogRecord(success)).toEqual({
      level: 'information',
      record: {
        event: 'modelfleet.request',
        timestamp: '2026-11-27T12:00:00.000Z',
        message: 'POST infer iris@3/canary 200 12.346ms',
        properties: {
          model: 'iris',
          variant: 'canary',
          version: '3',
          stage: 'prod',
          requestId: 'r-1',
          route: 'infer',
          method: 'POST',
          status: '200',
          coldStart: 'true',
          cache: 'miss',
        },
        measurements: {
          requests: 1,
          errors: 0,
          clientErrors: 0,
          coldStart: 1,
          latencyMs: 12.346,
          inferenceLatencyMs: 0.25,
          modelLoadTimeMs: 80,
          cacheHit: 0,
          cacheMiss: 1,
          batchSize: 2,
        },
      },
    });
    expect(toAzureLogRecord(failure).level).toBe('warning');
    expect(toAzureLogRecord({ ...failure, status: 503 }).level).toBe('error');
  });
});

const v2Event = (body: string, requestId: string) =>
  ({
    version: '2.0',
    routeKey: '$default',
    rawPath: '/v2/models/iris/infer',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    requestContext: {
      http: { method: 'POST', path: '/v2/models/iris/infer', sourceIp: '127.0.0.1' },
      stage: '$default',
    },
    body,
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2;

interface Emf {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

function expectEmf(doc: Record<string, unknown>): asserts doc is Emf {
  const aws = doc['_aws'] as Emf['_aws'];
  expect(typeof aws.Timestamp).toBe('number');
  expect(aws.CloudWatchMetrics).toHaveLength(1);
  const [directive] = aws.CloudWatchMetrics;
  expect(directive?.Namespace).toBe('modelfleet');
  // Every dimension and metric named in the directive must have a value at the root.
  for (const set of directive?.Dimensions ?? [])
    for (const name of set) expect(typeof doc[name]).toBe('string');
  for (const metric of directive?.Metrics ?? []) {
    expect(['Count', 'Milliseconds']).toContain(metric.Unit);
    expect(typeof doc[metric.Name]).toBe('number');
  }
}

describe('AWS: CloudWatch EMF, one document per request on stdout', () => {
  it('prints one EMF document per request, on success and on client errors', async () => {
    const handler = createHandler(appWith(emfSink('modelfleet')));
    const context = { functionName: 'infer' } as Context;
    const docs = await stdoutJson(async () => {
      await handler(v2Event(iris, 'emf-ok'), context);
      await handler(v2Event('{"inputs": 3}', 'emf-bad'), context);
    });
    expect(docs).toHaveLength(2);
    const [ok, bad] = docs as [Record<string, unknown>, Record<string, unknown>];
    expectEmf(ok);
    expectEmf(bad);
    const directive = ok._aws.CloudWatchMetrics[0];
    // The alarms and dashboard read exactly these sets and names (infra/aws/metrics.json).
    // CloudWatch compares dimension sets as sets, so the order of names within one does not matter.
    const sorted = (sets: string[][] | undefined) => sets?.map((set) => [...set].sort());
    expect(sorted(directive?.Dimensions)).toEqual(
      sorted([metricsSpec.dimensions.perVersion, metricsSpec.dimensions.service]),
    );
    expect(directive?.Metrics).toEqual(
      expect.arrayContaining(
        Object.values(metricsSpec.metrics).map(({ name, unit }) => ({ Name: name, Unit: unit })),
      ),
    );
    expect(directive?.Metrics).toEqual(
      expect.arrayContaining([
        { Name: 'Requests', Unit: 'Count' },
        { Name: 'Errors', Unit: 'Count' },
        { Name: 'ColdStart', Unit: 'Count' },
        { Name: 'Latency', Unit: 'Milliseconds' },
        { Name: 'InferenceLatency', Unit: 'Milliseconds' },
        { Name: 'ModelLoadTime', Unit: 'Milliseconds' },
      ]),
    );
    expect(ok).not.toHaveProperty('service');
    expect(ok).toMatchObject({
      model: 'iris',
      variant: 'primary',
      version: '1',
      stage: 'dev',
      Requests: 1,
      Errors: 0,
      ColdStart: 1,
      requestId: 'emf-ok',
      status: '200',
    });
    expect(Math.abs(ok._aws.Timestamp - Date.now())).toBeLessThan(60_000);
    expect(bad).toMatchObject({ ClientErrors: 1, ColdStart: 0, status: '400', errorClass: 'invalid_input' });
  });

  it('has printed the recorded figures when the handler throws', async () => {
    const sink = emfSink('modelfleet');
    const base = appWith(sink);
    // A stand-in core that records its event and then fails: the document is already out.
    const failing: App = {
      ...base,
      handle: async () => {
        sink({ ...failure, status: 500, errorClass: 'internal', timestamp: new Date().toISOString() });
        throw new Error('boom');
      },
    };
    const handler = createHandler(failing);
    const docs = await stdoutJson(() =>
      expect(handler(v2Event(iris, 'x'), { functionName: 'infer' } as Context)).rejects.toThrow('boom'),
    );
    expect(docs).toHaveLength(1);
    const [doc] = docs as [Record<string, unknown>];
    expectEmf(doc);
    expect(doc).toMatchObject({ Errors: 1, route: 'unknown', errorClass: 'internal' });
  });
});

describe('GCP: Cloud Logging structured lines on stdout', () => {
  it('prints one parseable entry per request with severity and labels', async () => {
    const app = appWith(cloudLoggingSink);
    const lines = await stdoutJson(async () => {
      await app.handle({ method: 'POST', path: '/v2/models/iris/infer', query: {}, headers: {}, body: iris });
      await app.handle({ method: 'GET', path: '/v2/models/nope', query: {}, headers: {} });
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      severity: 'INFO',
      type: 'modelfleet.request',
      [GCP_LABELS_KEY]: { model: 'iris', variant: 'primary', version: '1', stage: 'dev', status: '200' },
      requests: 1,
      batchSize: 2,
    });
    expect(typeof lines[0]?.['latencyMs']).toBe('number');
    expect(typeof lines[0]?.['message']).toBe('string');
    expect(lines[1]).toMatchObject({
      severity: 'WARNING',
      [GCP_LABELS_KEY]: { status: '404', errorClass: 'not_found' },
    });
  });
});

describe('Azure: JSON records through the invocation logger', () => {
  it('logs each request to its own invocation with a level by status', async () => {
    const logged: { level: string; line: string }[] = [];
    const send = azureFunctions(appWith(invocationLogSink), (level, line) => logged.push({ level, line }));
    await send({
      name: 'ok',
      method: 'POST',
      path: '/v2/models/iris/infer',
      body: iris,
      expect: { status: 200 },
    });
    await send({ name: 'missing', method: 'GET', path: '/v2/models/nope', expect: { status: 404 } });
    expect(logged.map((l) => l.level)).toEqual(['information', 'warning']);
    // docs/metrics.md's KQL pre-filters on this prefix.
    for (const { line } of logged) expect(line.startsWith('{"event":"modelfleet.request"')).toBe(true);
    const [ok, missing] = logged.map((l) => JSON.parse(l.line));
    expect(ok).toMatchObject({
      event: 'modelfleet.request',
      properties: { model: 'iris', variant: 'primary', version: '1', stage: 'dev', status: '200' },
      measurements: { requests: 1, errors: 0, batchSize: 2 },
    });
    expect(typeof ok.measurements.latencyMs).toBe('number');
    expect(missing).toMatchObject({ properties: { status: '404', errorClass: 'not_found' } });
  });
});
