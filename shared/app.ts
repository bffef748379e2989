import type { Config } from './config';
import { dashboardRoute } from './control/dashboard';
import { createPipeline, type RequestContext as PipelineContext } from './http/pipeline';
import { jsonResponse, type ServeRequest, type ServeResponse } from './http/request';
import { type Params, type Route, routePattern } from './http/router';
import { BINARY_EXTENSION } from './protocol/binary';
import { mlflowModelOf } from './protocol/mlflow';
import { MLFLOW, modelHeaders, OIP, type PayloadFormat, TF_SERVING } from './protocol/payloads';
import { RecordScorer } from './records/stream-batch';
import { modelName, versionNumber } from './repository/names';
import { ModelRepository } from './repository/repository';
import { parseJsonBody } from './security/body';
import { createGuard } from './security/guard';
import { manifestVerifier } from './security/signing';
import { ArtifactDiskCache } from './serving/artifact-cache';
import { DataPlane } from './serving/dataplane';
import type { InferenceEngine } from './serving/engine';
import { parseFeedback } from './serving/feedback';
import { ModelCache } from './serving/model-cache';
import { Monitor, type Observation } from './serving/monitoring';
import { type PreloadReport, preloadStage, vetDeployment } from './serving/preload';
import { readiness } from './serving/readiness';
import { type ModelStore, openStore } from './store';
import { createLogger, type Logger } from './telemetry/log';
import { jsonLineSink, type MetricSink } from './telemetry/metric-event';
import { PROMETHEUS_CONTENT_TYPE, PrometheusRegistry } from './telemetry/prometheus';
import { DeploymentsCache } from './traffic/deployments-cache';
import { VersionListing } from './traffic/version-listing';

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
  /** Where session.run happens; inline unless given (the server passes its worker pool). */
  engine?: InferenceEngine;
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
  /**
   * What can be decided from the method, path and headers alone (route, credentials, rate limits),
   * for adapters that read the body themselves: they call it before reading one, so a request
   * that will be refused costs no body. Throws the refusal; `handle` then skips these checks for
   * the same request object.
   */
  admit(request: ServeRequest): Promise<void>;
  /** Streamed records → predictions on the same data plane (shared/records/, docs/streaming.md). */
  readonly records: RecordScorer;
  /** Loads, verifies and warms up the stage's deployed versions; await it before serving. */
  preload(): Promise<PreloadReport>;
  /**
   * Resolves when work left running after responses has finished: background shadows, deployment
   * revalidations and the disk-cache copies of loaded versions.
   */
  settled(): Promise<void>;
}

/** Builds the platform-neutral application every adapter calls: the parts, wired. */
export function createApp(options: AppOptions): App {
  const { config } = options;
  const log = options.log ?? createLogger();
  const repository = new ModelRepository(options.store ?? openStore(config.repository, config.store));
  const cache = new ModelCache(repository, config.maxLoadedModels, {
    disk: new ArtifactDiskCache(config.artifactCacheDir, config.artifactCacheBytes, log),
    log,
    verifyManifest: manifestVerifier(config),
    ...(options.engine === undefined ? {} : { engine: options.engine }),
  });
  const guard = createGuard(config, options.now);
  const deploymentsOf = (stage: string) =>
    new DeploymentsCache(
      repository,
      stage,
      config.deploymentTtlMs,
      log,
      options.now,
      async (model, next) => void (await vetDeployment(cache, model, next, log)),
    );
  const deployments = deploymentsOf(config.stage);
  const dataPlane = new DataPlane(deployments, cache, options.random ?? Math.random, config, options.engine);
  const preloadState = { running: false, failed: false };
  const ready: Handler = async () => readiness(deployments, cache, preloadState);
  const monitor = new Monitor(
    config.monitoring,
    config.stage,
    repository.store,
    log,
    options.random ?? Math.random,
  );
  // GET /metrics (Prometheus) counts the same events the sink receives, rejected requests included.
  const prometheus = new PrometheusRegistry();
  const downstream = options.metrics ?? jsonLineSink;
  const sink: MetricSink = (event) => {
    prometheus.record(event);
    downstream(event);
  };
  const pipeline = createPipeline<Observation>({
    ...config,
    routes: [
      ...apiRoutes(dataPlane, repository, config, ready, options.now),
      ...monitoringRoutes(deployments, monitor, repository, config),
      metricsRoute(prometheus),
    ],
    finished: (event, observed) => monitor.record(event, observed),
    authorize: (request, routeName, params) => guard.check(request, routeName, params),
    metrics: sink,
    log,
  });
  // Records may name another stage: each gets its own deployments, all share the loaded models.
  const records = new RecordScorer({
    dataPlaneFor: stagePlanes(
      config.stage,
      dataPlane,
      (stage) =>
        new DataPlane(deploymentsOf(stage), cache, options.random ?? Math.random, config, options.engine),
    ),
    limits: config,
    metrics: sink,
    finished: (event, observed) => monitor.record(event, observed),
    log,
    exposeInternals: config.exposeInternals,
  });
  return {
    config,
    repository,
    records,
    handle: pipeline.handle,
    reject: pipeline.reject,
    admit: pipeline.admit,
    settled: async () => {
      await pipeline.settled();
      await deployments.refreshed();
      await cache.flushed();
      await monitor.flush();
    },
    preload: () => runPreload(preloadState, () => preloadStage(repository, deployments, cache, log)),
  };
}

/** Until a started preload has finished the instance is not ready (withPreload holds requests). */
async function runPreload(
  state: { running: boolean; failed: boolean },
  preload: () => Promise<PreloadReport>,
): Promise<PreloadReport> {
  state.running = true;
  try {
    const report = await preload();
    state.failed = report.failed.length > 0;
    return report;
  } finally {
    state.running = false;
  }
}

/** The data plane of each stage records name, made on first use; the function's own is given. */
function stagePlanes(stage: string, own: DataPlane, make: (stage: string) => DataPlane) {
  const planes = new Map([[stage, own]]);
  return (named: string): DataPlane => {
    const known = planes.get(named);
    if (known !== undefined) return known;
    const made = make(named);
    planes.set(named, made);
    return made;
  };
}

type RequestContext = PipelineContext<Observation>;
type Handler = Route<RequestContext>['run'];

/** The HTTP surface: Open Inference Protocol v2, MLflow scoring and TF-Serving predict. */
function apiRoutes(
  dataPlane: DataPlane,
  repository: ModelRepository,
  config: Config,
  stageReady: Handler,
  now: (() => number) | undefined,
): Route<RequestContext>[] {
  const infer = inferRoute(dataPlane, config, OIP);
  const tfServing = inferRoute(dataPlane, config, TF_SERVING);
  const metadata = metadataRoute(dataPlane, new VersionListing(repository, config.deploymentTtlMs, now));
  const ready = modelReadyRoute(dataPlane);
  const get = (name: string, template: string | RegExp, run: Handler): Route<RequestContext> => ({
    name,
    method: 'GET',
    pattern: typeof template === 'string' ? routePattern(template) : template,
    run,
  });
  const post = (name: string, template: string, run: Handler): Route<RequestContext> => ({
    ...get(name, template, run),
    method: 'POST',
  });
  return [
    get('server_metadata', /^\/v2\/?$/, async () =>
      jsonResponse(200, { name: SERVER_NAME, version: SERVER_VERSION, extensions: [BINARY_EXTENSION] }),
    ),
    get('live', '/v2/health/live', async () => jsonResponse(200, { live: true })),
    get('ready', '/v2/health/ready', stageReady),
    post('infer', '/v2/models/{model}/infer', infer),
    post('infer', '/v2/models/{model}/versions/{version}/infer', infer),
    {
      ...post('mlflow_invocations', '/invocations', inferRoute(dataPlane, config, MLFLOW)),
      params: (request) => mlflowModelOf(request.query, request.headers),
    },
    post('tfserving_predict', '/v1/models/{model}:predict', tfServing),
    post('tfserving_predict', '/v1/models/{model}/versions/{version}:predict', tfServing),
    get('model_ready', '/v2/models/{model}/ready', ready),
    get('model_ready', '/v2/models/{model}/versions/{version}/ready', ready),
    get('model_metadata', '/v2/models/{model}', metadata),
    get('model_metadata', '/v2/models/{model}/versions/{version}', metadata),
  ];
}

/** Every payload format is the same data-plane call: route (sticky key, shadow sample), load, run. */
function inferRoute(dataPlane: DataPlane, config: Config, format: PayloadFormat): Handler {
  // Not async: the data plane's promise is the route's (one promise less per request).
  return (ctx, params) => {
    const model = modelName(params.model);
    const pinnedVersion = versionOf(params);
    const body = format.read(ctx.request, config);
    return dataPlane.infer(
      { format, model, pinnedVersion, body, headers: ctx.request.headers, requestId: ctx.requestId },
      ctx,
    );
  };
}

/** Prometheus scrapes (admin scope outside `local`, like /dashboard: it names every model). */
function metricsRoute(registry: PrometheusRegistry): Route<RequestContext> {
  return {
    name: 'metrics',
    method: 'GET',
    pattern: /^\/metrics\/?$/,
    run: async () => ({
      status: 200,
      headers: { 'content-type': PROMETHEUS_CONTENT_TYPE },
      body: registry.render(),
    }),
  };
}

/** Ground truth for earlier requests, and the monitoring dashboard (docs/monitoring.md). */
function monitoringRoutes(
  deployments: DeploymentsCache,
  monitor: Monitor,
  repository: ModelRepository,
  config: Config,
): Route<RequestContext>[] {
  const feedback: Handler = async (ctx, params) => {
    const model = modelName(params.model);
    // 404 for a model the stage does not serve.
    await deployments.current(model);
    const items = parseFeedback(parseJsonBody(ctx.request, config), config.maxBatchRows, config.maxBatchRows);
    const joined = await monitor.feedback(model, items);
    return jsonResponse(200, { model, accepted: items.length, joined });
  };
  return [
    { name: 'feedback', method: 'POST', pattern: routePattern('/v2/models/{model}/feedback'), run: feedback },
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
  ];
}

function metadataRoute(dataPlane: DataPlane, listing: VersionListing): Handler {
  return async (ctx, params) => {
    const model = modelName(params.model);
    const { target, loaded } = await dataPlane.resolve(model, versionOf(params), ctx.metric);
    const versions = await listing.versions(model);
    const { features } = loaded.manifest;
    return jsonResponse(
      200,
      {
        name: model,
        ...(versions === undefined ? {} : { versions: versions.map(String) }),
        platform: 'onnxruntime_onnx',
        inputs: loaded.manifest.signature.inputs,
        outputs: loaded.manifest.signature.outputs,
        parameters: {
          version: String(target.version),
          variant: target.variant,
          ...(features === undefined ? {} : { features }),
        },
      },
      modelHeaders(model, target),
    );
  };
}

function modelReadyRoute(dataPlane: DataPlane): Handler {
  return async (ctx, params) => {
    const model = modelName(params.model);
    const { target } = await dataPlane.resolve(model, versionOf(params), ctx.metric);
    return jsonResponse(
      200,
      { name: model, version: String(target.version), ready: true },
      modelHeaders(model, target),
    );
  };
}

function versionOf(params: Params): number | undefined {
  return params.version === undefined ? undefined : versionNumber(params.version);
}
