import { randomUUID } from 'node:crypto';
import type { Config } from './config';
import { corsHeaders, preflightResponse } from './cors';
import { DataPlane, type Target } from './dataplane';
import { DeploymentsCache } from './deployments-cache';
import {
  BadRequestError,
  errorClassOf,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  toErrorResponse,
  UnsupportedMediaTypeError,
} from './errors';
import { jsonResponse, type ServeRequest, type ServeResponse } from './http';
import { createLogger, describeError, type Logger } from './log';
import { MODEL_NAME_PATTERN } from './manifest';
import { jsonLineSink, type MetricSink, type RequestMetricEvent } from './metrics';
import { ModelCache } from './model-cache';
import { BINARY_EXTENSION, INFERENCE_HEADER, inferResponse, parseBinaryBody } from './protocol/binary';
import { parseOipBody } from './protocol/oip-fast';
import { ModelRepository } from './repository';
import { type ModelStore, openStore } from './store';

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
}

type Params = { model?: string; version?: string };
type RouteHandler = (ctx: RequestContext, params: Params) => Promise<ServeResponse>;

interface Route {
  name: string;
  method: string;
  pattern: RegExp;
  run: RouteHandler;
}

interface RequestContext {
  request: ServeRequest;
  requestId: string;
  metric: Partial<RequestMetricEvent>;
}

const SEGMENT = '([^/]+)';

/** Builds the platform-neutral application every adapter calls. */
export function createApp(options: AppOptions): App {
  const { config } = options;
  const log = options.log ?? createLogger();
  const metrics = options.metrics ?? jsonLineSink;
  const repository = new ModelRepository(options.store ?? openStore(config.repository));
  const cache = new ModelCache(repository, config.maxLoadedModels);
  const deployments = new DeploymentsCache(
    repository,
    config.stage,
    config.deploymentTtlMs,
    log,
    options.now,
  );
  const dataPlane = new DataPlane(deployments, cache, config, options.random ?? Math.random);
  let coldStart = true;

  const modelTarget = async (params: Params): Promise<{ model: string; target: Target }> => {
    const model = modelName(params.model);
    const pinned = params.version === undefined ? undefined : versionNumber(params.version);
    return { model, target: await dataPlane.target(model, pinned) };
  };

  const infer: RouteHandler = async (ctx, params) => {
    const { model, target } = await modelTarget(params);
    const body =
      ctx.request.headers[INFERENCE_HEADER] === undefined
        ? parseJsonBody(ctx.request, config.maxBodyBytes, parseOipBody)
        : parseBinaryBody(ctx.request, config.maxBodyBytes);
    const loaded = await dataPlane.load(model, target, ctx.metric);
    const result = await dataPlane.infer(loaded, target, body, ctx.requestId, ctx.metric);
    return inferResponse(result, modelHeaders(model, target));
  };

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

  const handle = async (request: ServeRequest): Promise<ServeResponse> => {
    const started = performance.now();
    const requestId = requestIdOf(request);
    const metric: Partial<RequestMetricEvent> = {};
    const ctx: RequestContext = { request, requestId, metric };
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
        response = await match.route.run(ctx, match.params);
      }
      response.headers['x-request-id'] = requestId;
    } catch (err) {
      metric.errorClass = errorClassOf(err);
      if (
        metric.errorClass === 'internal' ||
        metric.errorClass === 'unavailable' ||
        metric.errorClass === 'integrity'
      ) {
        log.error('request failed', { requestId, route: routeName, ...describeError(err) });
      }
      response = toErrorResponse(err, { exposeInternals: config.exposeInternals, requestId });
    }
    Object.assign(response.headers, corsHeaders(config.corsOrigins, request));
    metrics({
      timestamp: new Date().toISOString(),
      requestId,
      stage: config.stage,
      route: routeName,
      method: request.method.toUpperCase(),
      status: response.status,
      coldStart,
      latencyMs: performance.now() - started,
      ...metric,
    });
    coldStart = false;
    return response;
  };

  return { config, repository, handle };
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
    const names = candidate.pattern.source.includes('versions') ? ['model', 'version'] : ['model'];
    const params: Params = {};
    names.forEach((name, index) => {
      const value = match[index + 1];
      if (value !== undefined) params[name as keyof Params] = decodeSegment(value);
    });
    return { route: candidate, params };
  }
  if (allowed.length > 0) throw new MethodNotAllowedError(`${method} is not allowed on ${path}`, allowed);
  throw new NotFoundError(`no route for ${method} ${path}`);
}

function decodeSegment(value: string): string {
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

// curl -d sends application/x-www-form-urlencoded unless told otherwise; the body is still JSON.
const JSON_CONTENT_TYPES = /^(application\/(json|[\w.+-]+\+json|x-www-form-urlencoded)|text\/plain)$/;

function parseJsonBody(
  request: ServeRequest,
  maxBytes: number,
  // A faster reader may decline (undefined); JSON.parse then runs and reports any syntax error.
  fastParse: (text: string) => unknown = () => undefined,
): unknown {
  const contentType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (contentType !== undefined && contentType !== '' && !JSON_CONTENT_TYPES.test(contentType)) {
    throw new UnsupportedMediaTypeError(
      `content-type ${contentType} is not supported; send application/json`,
    );
  }
  const body = request.body;
  if (body === undefined || body.length === 0)
    throw new BadRequestError('request body: expected a JSON object, got an empty body');
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (size > maxBytes)
    throw new PayloadTooLargeError(`request body is ${size} bytes, more than the limit of ${maxBytes}`);
  const text =
    typeof body === 'string'
      ? body
      : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  try {
    return fastParse(text) ?? JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}
