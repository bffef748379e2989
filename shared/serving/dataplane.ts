import { errorClassOf } from '../errors';
import type { MetricFields } from '../http/finish';
import type { ServeResponse } from '../http/request';
import { modelHeaders, type PayloadFormat, type PayloadLimits } from '../protocol/payloads';
import { type DeploymentConfig, pickVariant } from '../repository/deployment';
import type { InferCall } from '../tensor/types';
import type { DeploymentsCache } from '../traffic/deployments-cache';
import { compareWithShadow } from '../traffic/shadow';
import { routeRequest, stickyKeyOf, type Target } from '../traffic/variant-pick';
import { type InferenceEngine, inlineEngine, type RunResult, rowsOf } from './engine';
import type { LoadedModel } from './loaded-model';
import type { ModelCache } from './model-cache';
import type { Observation } from './monitoring';

export type { RunResult, Target };

/** What routing may look at: headers and the parsed JSON body (for a sticky key field). */
export interface RoutingInput {
  headers: Readonly<Record<string, string>>;
  body: unknown;
}

/** One inference request as the data plane sees it, whatever the transport and payload format. */
export interface InferRequest {
  format: PayloadFormat;
  model: string;
  /** A version named by the caller; otherwise the stage's deployment picks one. */
  pinnedVersion?: number | undefined;
  /** The body as `format.read` returned it. */
  body: unknown;
  headers: Readonly<Record<string, string>>;
  requestId: string;
}

/** Where `infer` leaves what it learns: metric fields, work for after the response, what was observed. */
export interface InferContext {
  metric: MetricFields;
  /** The sampled shadow run, to be run after the response; it records into the same metric. */
  after: (() => Promise<void>)[];
  /** What was asked and answered, for capture and drift (serving/monitoring.ts). */
  observed?: Observation;
}

export const PINNED_VARIANT = 'pinned';

/**
 * Transport-neutral operations on models (KServe's data plane): which version serves a request,
 * loading, inference, shadowing. It fills in the request's metric fields as it learns model,
 * version and timings.
 */
export class DataPlane {
  constructor(
    private readonly deployments: DeploymentsCache,
    private readonly cache: ModelCache,
    private readonly random: () => number,
    private readonly limits: PayloadLimits,
    /** Where session.run happens: inline (functions) or a worker pool (the server). */
    private readonly engine: InferenceEngine = inlineEngine,
  ) {}

  /**
   * Target → load → parse → run → respond, for every payload format alike. A warm request (config
   * cached, version loaded) awaits only the run, and nothing at all on an engine that runs it on
   * this thread: each await is a promise, on functions-framework every promise also runs the async
   * hooks of its per-request domain, and the tiny bench model answered ≈ 2 µs sooner without them.
   * Throws synchronously what the request gets wrong. What comes after the response (the shadow
   * run, what was observed) goes into `ctx`.
   */
  infer(request: InferRequest, ctx: InferContext): ServeResponse | Promise<ServeResponse> {
    const target = this.targetNow(request.model, request.pinnedVersion, request);
    const loaded = target === undefined ? undefined : this.loadedNow(request.model, target, ctx.metric);
    if (target === undefined || loaded === undefined) return this.inferOnceLoaded(request, ctx, target);
    return this.runAndRespond(request, ctx, target, loaded);
  }

  /** `infer` for a request that waits for the deployment config or for its version to load. */
  private async inferOnceLoaded(
    request: InferRequest,
    ctx: InferContext,
    known: Target | undefined,
  ): Promise<ServeResponse> {
    const { model, pinnedVersion } = request;
    const target = known ?? (await this.target(model, pinnedVersion, request));
    const loaded = this.loadedNow(model, target, ctx.metric) ?? (await this.load(model, target, ctx.metric));
    return this.runAndRespond(request, ctx, target, loaded);
  }

  private runAndRespond(
    request: InferRequest,
    ctx: InferContext,
    target: Target,
    loaded: LoadedModel,
  ): ServeResponse | Promise<ServeResponse> {
    const call = request.format.parse(request.body, loaded, this.limits);
    ctx.metric.batchSize = rowsOf(call);
    const now = this.engine.runNow?.(loaded, call);
    if (now !== undefined) return this.respond(request, ctx, target, loaded, call, now);
    return this.engine.run(loaded, call).then((run) => this.respond(request, ctx, target, loaded, call, run));
  }

  private respond(
    request: InferRequest,
    ctx: InferContext,
    target: Target,
    loaded: LoadedModel,
    call: InferCall,
    run: RunResult,
  ): ServeResponse {
    const { format, model, body } = request;
    const { metric } = ctx;
    metric.inferenceMs = run.runMs;
    const result = { model: loaded, target, call, outputs: run.outputs, requestId: request.requestId };
    const response = format.respond(body, result, modelHeaders(model, target));
    ctx.observed = { manifest: loaded.manifest, call, outputs: run.outputs };
    const shadowVersion = target.shadowVersion;
    if (shadowVersion !== undefined) {
      const parse = (m: LoadedModel) => format.parse(body, m, this.limits);
      ctx.after.push(() => this.shadow(model, shadowVersion, parse, run, metric));
    }
    return response;
  }

  /** The version that serves `model` (or the pinned one), loaded: for metadata and readiness. */
  async resolve(
    model: string,
    pinnedVersion: number | undefined,
    metric: MetricFields,
  ): Promise<{ target: Target; loaded: LoadedModel }> {
    const target = await this.target(model, pinnedVersion);
    return { target, loaded: await this.load(model, target, metric) };
  }

  /** The version that serves one request (variant pick, sticky key, shadow sample), loaded. */
  async targetFor(
    model: string,
    pinnedVersion: number | undefined,
    request: RoutingInput,
    metric: MetricFields,
  ): Promise<{ target: Target; loaded: LoadedModel }> {
    const target =
      this.targetNow(model, pinnedVersion, request) ?? (await this.target(model, pinnedVersion, request));
    const loaded = this.loadedNow(model, target, metric) ?? (await this.load(model, target, metric));
    return { target, loaded };
  }

  /**
   * A pinned version is served as is (variant "pinned", never shadowed); otherwise the stage's
   * deployment decides, by sticky key when it names one and the request carries it.
   */
  private async target(
    model: string,
    pinnedVersion: number | undefined,
    request?: RoutingInput,
  ): Promise<Target> {
    if (pinnedVersion !== undefined) return { version: pinnedVersion, variant: PINNED_VARIANT };
    return this.decide(await this.deployments.current(model), request);
  }

  /** `target` without an await when the deployment config is cached; undefined otherwise. */
  private targetNow(
    model: string,
    pinnedVersion: number | undefined,
    request: RoutingInput,
  ): Target | undefined {
    if (pinnedVersion !== undefined) return { version: pinnedVersion, variant: PINNED_VARIANT };
    const config = this.deployments.cached(model);
    return config === undefined ? undefined : this.decide(config, request);
  }

  private decide(config: DeploymentConfig, request: RoutingInput | undefined): Target {
    if (request === undefined) {
      const variant = pickVariant(config.variants, this.random());
      return { version: variant.version, variant: variant.name };
    }
    const decision = routeRequest(
      config,
      stickyKeyOf(config.sticky, request.headers, request.body),
      this.random,
    );
    return {
      version: decision.variant.version,
      variant: decision.variant.name,
      ...(decision.sticky ? { sticky: true } : {}),
      ...(decision.shadowVersion === undefined ? {} : { shadowVersion: decision.shadowVersion }),
    };
  }

  /** `load` for a version that is already loaded, without an await; undefined otherwise. */
  private loadedNow(model: string, target: Target, metric: MetricFields): LoadedModel | undefined {
    const loaded = this.cache.peek(model, target.version);
    if (loaded === undefined) return undefined;
    recordTarget(metric, model, target);
    metric.cache = 'hit';
    return loaded;
  }

  private async load(model: string, target: Target, metric: MetricFields): Promise<LoadedModel> {
    recordTarget(metric, model, target);
    const lookup = await this.cache.get(model, target.version);
    metric.cache = lookup.hit ? 'hit' : 'miss';
    if (!lookup.hit) metric.loadMs = lookup.model.loadMs;
    return lookup.model;
  }

  /**
   * Runs the same request on the shadow version and records how it compares with the primary's
   * result in the metric event. Never throws: a failing shadow is a metric, not a client error.
   */
  async shadow(
    model: string,
    version: number,
    parse: (model: LoadedModel) => InferCall,
    primary: RunResult,
    metric: MetricFields,
  ): Promise<void> {
    const started = performance.now();
    metric.shadowVersion = version;
    try {
      const { model: loaded } = await this.cache.get(model, version);
      const result = await this.engine.run(loaded, parse(loaded));
      metric.shadowLatencyDeltaMs = result.runMs - primary.runMs;
      const comparison = compareWithShadow(primary.outputs, result.outputs);
      if (comparison === undefined) metric.shadowError = 'incomparable';
      else if (comparison.kind === 'classification') metric.shadowAgreement = comparison.agreement;
      else metric.shadowMeanAbsDiff = comparison.meanAbsDiff;
    } catch (err) {
      metric.shadowError = errorClassOf(err);
    }
    metric.shadowMs = performance.now() - started;
  }
}

function recordTarget(metric: MetricFields, model: string, target: Target): void {
  metric.model = model;
  metric.version = target.version;
  metric.variant = target.variant;
  if (target.sticky === true) metric.sticky = true;
}
