import { randomUUID } from 'node:crypto';
import type { Config } from './config';
import { dashboardRoute } from './control/dashboard';
import {
  BadRequestError,
  errorClassOf,
  MethodNotAllowedError,
  NotFoundError,
  toErrorResponse,
} from './errors';
import { corsHeaders, preflightResponse } from './http/cors';
import { jsonResponse, type ServeRequest, type ServeResponse } from './http/request';
import { withSecurityHeaders } from './http/security-headers';
import { BINARY_EXTENSION, INFERENCE_HEADER, inferResponse, parseBinaryBody } from './protocol/binary';
import { mlflowModelOf } from './protocol/mlflow';
import { parseOipBody } from './protocol/oip-fast';
import { type InferResult, MLFLOW, OIP, type PayloadFormat, TF_SERVING } from './protocol/payloads';
import { MODEL_NAME_PATTERN } from './repository/manifest';
import { ModelRepository } from './repository/repository';
import { parseJsonBody } from './security/body';
import { createGuard } from './security/guard';
import { manifestVerifier } from './security/signing';
import { ArtifactDiskCache } from './serving/artifact-cache';
import { DataPlane, type Target } from './serving/dataplane';
import { parseFeedback } from './serving/feedback';
import { type LoadedModel, ModelCache } from './serving/model-cache';
import { Monitor, type Observation } from './serving/monitoring';
import { type PreloadReport, preloadStage, vetDeployment } from './serving/preload';
import { type ModelStore, openStore } from './store';
import { createLogger, describeError, type Logger } from './telemetry/log';
import { jsonLineSink, type MetricSink, type RequestMetricEvent } from './telemetry/metric-event';
import { DeploymentsCache } from './traffic/deployments-cache';

export const SERVER_NAME = 'modelfleet';
export const SERVER_VERSION = '0.1.0';

export interface AppOptions {
  config: Config;
  /** Defaults to the store named by `config.repository`. */
  store?: ModelStore;
  metrics?: MetricSink;
  log?: Logger;
  /** Source of randomness for variant picks; seed it in tests. */
  random?: () => number;
  now?: () => number;
}

export interface App {
  readonly config: Config;
  readonly repository: ModelRepository;
  handle(request: ServeRequest): Promise<ServeResponse>;
  /**
   * The response to a request the adapter refused before it could be handled (body over the
   * limit, unreadable target), finished like any other: x-request-id, security and CORS headers,
   * one metric event. `request` carries what was read (method, path, headers), without a body.
   */
  reject(request: ServeRequest, err: unknown): ServeResponse;
  /** Loads, verifies and warms up the stage's deployed versions; await it before serving. */
  preload(): Promise<PreloadReport>;
  /**
   * Resolves when work left running after responses has finished: background shadows and the
   * disk-cache copies of loaded versions.
   */
  settled(): Promise<void>;
}

type Params = { model?: string; version?: string };
type RouteHandler = (ctx: RequestContext, params: Params) => Promise<ServeResponse>;

interface Route {
  name: string;
  method: string;
  pattern: RegExp;
  /** Model and version for routes that name them outside the path (MLflow: query or headers). */
  params?: (request: ServeRequest) => Params;
  run: RouteHandler;
}

interface RequestContext {
  request: ServeRequest;
  requestId: string;
  metric: Partial<RequestMetricEvent>;
  /** Work after the response is computed (shadow runs); `config.shadowMode` says if it is awaited. */
  after: (() => Promise<void>)[];
  /** What an inference request saw, for capture, drift and feedback joins (serving/monitoring.ts). */
  observed?: Observation;
}

const SEGMENT = '([^/]+)';

/** Builds the platform-neutral application every adapter calls. */
export function createApp(options: AppOptions): App {
  const { config } = options;
  const log = options.log ?? createLogger();
  const metrics = options.metrics ?? jsonLineSink;
  const repository = new ModelRepository(options.store ?? openStore(config.repository, config.store));
  const cache = new ModelCache(repository, config.maxLoadedModels, {
    disk: new ArtifactDiskCache(config.artifactCacheDir, config.artifactCacheBytes, log),
    log,
    verifyManifest: manifestVerifier(config),
  });
  const guard = createGuard(config, options.now);
  const deployments = new DeploymentsCache(
    repository,
    config.stage,
    config.deploymentTtlMs,
    log,
    options.now,
    async (model, next) => void (await vetDeployment(cache, model, next, log)),
  );
  const dataPlane = new DataPlane(deployments, cache, options.random ?? Math.random);
  const monitor = new Monitor(
    config.monitoring,
    config.stage,
    repository.store,
    log,
    options.random ?? Math.random,
  );
  let coldStart = true;

  const modelTarget = async (params: Params): Promise<{ model: string; target: Target }> => {
    const model = modelName(params.model);
    const pinned = params.version === undefined ? undefined : versionNumber(params.version);
    return { model, target: await dataPlane.target(model, pinned) };
  };

  // Every payload format is the same core call: route (sticky key, shadow sample), load, run.
  const inferWith =
    (format: PayloadFormat): RouteHandler =>
    async (ctx, params) => {
      const model = modelName(params.model);
      const pinned = params.version === undefined ? undefined : versionNumber(params.version);
      const body = format === OIP ? readOipBody(ctx.request, config) : parseJsonBody(ctx.request, config);
      const target = await dataPlane.target(model, pinned, { headers: ctx.request.headers, body });
      const loaded =
        dataPlane.loadedNow(model, target, ctx.metric) ?? (await dataPlane.load(model, target, ctx.metric));
      const parse = (m: LoadedModel) => format.parse(body, m, config);
      const call = parse(loaded);
      const run = await dataPlane.run(loaded, call, ctx.metric);
      ctx.observed = { manifest: loaded.manifest, call, outputs: run.outputs };
      const result: InferResult = {
        model: loaded,
        target,
        call,
        outputs: run.outputs,
        requestId: ctx.requestId,
      };
      const payload = format.respond(body, result);
      const headers = modelHeaders(model, target);
      // OIP outputs may be asked for as binary tensors; the other formats are always JSON.
      const response =
        format === OIP
          ? inferResponse(payload as Parameters<typeof inferResponse>[0], headers)
          : jsonResponse(200, payload, headers);
      const shadowVersion = target.shadowVersion;
      if (shadowVersion !== undefined) {
        ctx.after.push(() => dataPlane.shadow(model, shadowVersion, parse, run, ctx.metric));
      }
      return response;
    };
  const infer = inferWith(OIP);

  const metadata: RouteHandler = async (ctx, params) => {
    const { model, target } = await modelTarget(params);
    const loaded = await dataPlane.load(model, target, ctx.metric);
    const versions = await repository.listVersions(model);
    return jsonResponse(
      200,
      {
        name: model,
        versions: versions.map(String),
        platform: 'onnxruntime_onnx',
        inputs: loaded.manifest.signature.inputs,
        outputs: loaded.manifest.signature.outputs,
        parameters: {
          version: String(target.version),
          variant: target.variant,
          ...(loaded.manifest.features === undefined ? {} : { features: loaded.manifest.features }),
        },
      },
      modelHeaders(model, target),
    );
  };

  const modelReady: RouteHandler = async (ctx, params) => {
    const { model, target } = await modelTarget(params);
    await dataPlane.load(model, target, ctx.metric);
    return jsonResponse(
      200,
      { name: model, version: String(target.version), ready: true },
      modelHeaders(model, target),
    );
  };

  // Ground truth for earlier requests; 404 for a model the stage does not serve.
  const feedback: RouteHandler = async (ctx, params) => {
    const model = modelName(params.model);
    await deployments.current(model);
    const items = parseFeedback(parseJsonBody(ctx.request, config), config.maxBatchRows, config.maxBatchRows);
    const joined = await monitor.feedback(model, items);
    return jsonResponse(200, { model, accepted: items.length, joined });
  };

  const routes: Route[] = [
    { name: 'server_metadata', method: 'GET', pattern: /^\/v2\/?$/, run: async () => serverMetadata() },
    {
      name: 'live',
      method: 'GET',
      pattern: /^\/v2\/health\/live$/,
      run: async () => jsonResponse(200, { live: true }),
    },
    {
      name: 'ready',
      method: 'GET',
      pattern: /^\/v2\/health\/ready$/,
      run: async () => {
        await repository.listModels();
        return jsonResponse(200, { ready: true });
      },
    },
    { name: 'infer', method: 'POST', pattern: route('/v2/models/{model}/infer'), run: infer },
    {
      name: 'infer',
      method: 'POST',
      pattern: route('/v2/models/{model}/versions/{version}/infer'),
      run: infer,
    },
    {
      name: 'mlflow_invocations',
      method: 'POST',
      pattern: /^\/invocations$/,
      params: (request) => mlflowModelOf(request.query, request.headers),
      run: inferWith(MLFLOW),
    },
    {
      name: 'tfserving_predict',
      method: 'POST',
      pattern: route('/v1/models/{model}:predict'),
      run: inferWith(TF_SERVING),
    },
    {
      name: 'tfserving_predict',
      method: 'POST',
      pattern: route('/v1/models/{model}/versions/{version}:predict'),
      run: inferWith(TF_SERVING),
    },
    { name: 'feedback', method: 'POST', pattern: route('/v2/models/{model}/feedback'), run: feedback },
    {
      name: 'dashboard',
      method: 'GET',
      pattern: /^\/dashboard(?:\/data|\/chart\.js|\/app\.js)?\/?$/,
      run: (ctx) =>
        dashboardRoute(ctx.request, repository, {
          stage: config.stage,
          psiThreshold: config.monitoring.driftPsiThreshold,
        }),
    },
    { name: 'model_ready', method: 'GET', pattern: route('/v2/models/{model}/ready'), run: modelReady },
    {
      name: 'model_ready',
      method: 'GET',
      pattern: route('/v2/models/{model}/versions/{version}/ready'),
      run: modelReady,
    },
    { name: 'model_metadata', method: 'GET', pattern: route('/v2/models/{model}'), run: metadata },
    {
      name: 'model_metadata',
      method: 'GET',
      pattern: route('/v2/models/{model}/versions/{version}'),
      run: metadata,
    },
  ];

  const errorResponse = (
    err: unknown,
    requestId: string,
    routeName: string,
    metric: Partial<RequestMetricEvent>,
  ): ServeResponse => {
    metric.errorClass = errorClassOf(err);
    if (
      metric.errorClass === 'internal' ||
      metric.errorClass === 'unavailable' ||
      metric.errorClass === 'integrity'
    ) {
      log.error('request failed', { requestId, route: routeName, ...describeError(err) });
    }
    return toErrorResponse(err, { exposeInternals: config.exposeInternals, requestId });
  };

  /** What every response gets, however it was produced: security and CORS headers, its metric event. */
  const seal = (
    request: ServeRequest,
    response: ServeResponse,
    requestId: string,
    routeName: string,
    started: number,
    metric: Partial<RequestMetricEvent>,
  ): RequestMetricEvent => {
    withSecurityHeaders(response);
    Object.assign(response.headers, corsHeaders(config.corsOrigins, request));
    const event: RequestMetricEvent = {
      timestamp: isoTimestamp(),
      requestId,
      stage: config.stage,
      route: routeName,
      method: request.method.toUpperCase(),
      status: response.status,
      coldStart,
      latencyMs: performance.now() - started,
    };
    // Object.assign, not a spread in the literal: the same event, without V8's slow object spread.
    Object.assign(event, metric);
    coldStart = false;
    return event;
  };

  // An adapter that cannot build the whole request (its body is over the limit) still answers
  // like the core: request id, headers, one metric event under the route the path names.
  const reject = (request: ServeRequest, err: unknown): ServeResponse => {
    const started = performance.now();
    const requestId = requestIdOf(request);
    let routeName = 'unknown';
    try {
      routeName = matchRoute(routes, request.method.toUpperCase(), request.path).route.name;
    } catch {
      // No route (404/405): the event says `unknown`, as it does when handle() finds none.
    }
    const metric: Partial<RequestMetricEvent> = {};
    const response = errorResponse(err, requestId, routeName, metric);
    metrics(seal(request, response, requestId, routeName, started, metric));
    return response;
  };

  const handle = async (request: ServeRequest): Promise<ServeResponse> => {
    const started = performance.now();
    const requestId = requestIdOf(request);
    const metric: Partial<RequestMetricEvent> = {};
    const ctx: RequestContext = { request, requestId, metric, after: [] };
    let response: ServeResponse;
    let routeName = 'unknown';
    try {
      const preflight = preflightResponse(config.corsOrigins, request);
      if (preflight !== undefined) {
        routeName = 'preflight';
        response = preflight;
      } else {
        const match = matchRoute(routes, request.method.toUpperCase(), request.path);
        routeName = match.route.name;
        // The guard sees the same model and version the handler serves: a version pinned in an
        // MLflow query string needs the admin scope just like one in an OIP path.
        const params = match.route.params?.(request) ?? match.params;
        const checked = guard.check(request, routeName, params);
        // Only JWT verification is asynchronous: API-key requests skip an await here.
        if (checked instanceof Promise) await checked;
        response = await match.route.run(ctx, params);
      }
      response.headers['x-request-id'] = requestId;
    } catch (err) {
      response = errorResponse(err, requestId, routeName, metric);
    }
    const event = seal(request, response, requestId, routeName, started, metric);
    monitor.record(event, ctx.observed);
    if (ctx.after.length === 0) {
      metrics(event);
      return response;
    }
    // The event waits for the shadow so that its comparison is recorded with the request.
    const finish = async () => {
      for (const task of ctx.after) await task();
      metrics({ ...event, ...metric });
    };
    if (config.shadowMode === 'inline') {
      await finish();
    } else {
      // setImmediate lets the adapter write the response before the shadow takes the thread.
      const done = new Promise<void>((resolve) =>
        setImmediate(
          () =>
            void finish()
              .catch((err: unknown) =>
                log.error('shadow bookkeeping failed', { requestId, ...describeError(err) }),
              )
              .finally(resolve),
        ),
      );
      background.add(done);
      void done.finally(() => background.delete(done));
    }
    return response;
  };

  const background = new Set<Promise<void>>();
  const settled = async (): Promise<void> => {
    while (background.size > 0) await Promise.allSettled([...background]);
    await cache.flushed();
    await monitor.flush();
  };

  return {
    config,
    repository,
    handle,
    reject,
    settled,
    preload: () => preloadStage(repository, deployments, cache, log),
  };
}

let isoMs = Number.NaN;
let iso = '';

/** `new Date().toISOString()`, formatted once per millisecond rather than once per request. */
function isoTimestamp(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    iso = new Date(ms).toISOString();
    isoMs = ms;
  }
  return iso;
}

function route(template: string): RegExp {
  const source = template.replace('{model}', SEGMENT).replace('{version}', SEGMENT);
  return new RegExp(`^${source}$`);
}

function matchRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): { route: Route; params: Params } {
  const allowed: string[] = [];
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path);
    if (match === null) continue;
    if (candidate.method !== method) {
      allowed.push(candidate.method);
      continue;
    }
    // Route patterns capture the model, then the version when the path has one.
    const params: Params = {};
    const model = match[1];
    if (model !== undefined) params.model = decodeSegment(model);
    const version = match[2];
    if (version !== undefined) params.version = decodeSegment(version);
    return { route: candidate, params };
  }
  if (allowed.length > 0) throw new MethodNotAllowedError(`${method} is not allowed on ${path}`, allowed);
  throw new NotFoundError(`no route for ${method} ${path}`);
}

function decodeSegment(value: string): string {
  // Without a "%" there is nothing to decode (and nothing to fail on).
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    throw new BadRequestError(`path segment ${JSON.stringify(value)} is not valid percent-encoding`);
  }
}

function modelName(value: string | undefined): string {
  if (value === undefined || !MODEL_NAME_PATTERN.test(value) || value.includes('..')) {
    throw new BadRequestError(
      `model name ${JSON.stringify(value)} is not valid: use letters, digits, "_", "." or "-"`,
    );
  }
  return value;
}

function versionNumber(value: string): number {
  if (!/^[1-9]\d{0,8}$/.test(value)) {
    throw new BadRequestError(
      `version ${JSON.stringify(value)} is not valid: versions are positive integers`,
    );
  }
  return Number(value);
}

function modelHeaders(model: string, target: Target): Record<string, string> {
  return {
    'x-model-name': model,
    'x-model-version': String(target.version),
    'x-model-variant': target.variant,
  };
}

function requestIdOf(request: ServeRequest): string {
  const given = request.headers['x-request-id'];
  return given !== undefined && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

function serverMetadata(): ServeResponse {
  return jsonResponse(200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: [BINARY_EXTENSION] });
}

/** An OIP body: the binary tensor extension when its length header is present, else JSON read fast. */
function readOipBody(request: ServeRequest, config: Config): unknown {
  return request.headers[INFERENCE_HEADER] === undefined
    ? parseJsonBody(request, config, parseOipBody)
    : parseBinaryBody(request, config);
}
