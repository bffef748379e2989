import { errorClassOf } from '../errors';
import type { InferCall } from '../protocol/oip';
import { pickVariant } from '../repository/deployment';
import type { RequestMetricEvent } from '../telemetry/metric-event';
import type { DeploymentsCache } from '../traffic/deployments-cache';
import { compareWithShadow } from '../traffic/shadow';
import { routeRequest, stickyKeyOf } from '../traffic/variant-pick';
import { type OutputTensor, runInference } from './inference';
import type { LoadedModel, ModelCache } from './model-cache';

export interface Target {
  version: number;
  variant: string;
  /** The variant came from the request's sticky key. */
  sticky?: boolean;
  /** This request is sampled to also run on this version, whose result is never returned. */
  shadowVersion?: number;
}

/** What routing may look at: headers and the parsed JSON body (for a sticky key field). */
export interface RoutingInput {
  headers: Readonly<Record<string, string>>;
  body: unknown;
}

export interface RunResult {
  outputs: OutputTensor[];
  runMs: number;
}

export const PINNED_VARIANT = 'pinned';

/**
 * Transport-neutral operations on models: which version serves a request, loading and inference.
 * It fills in the request's metric event as it learns model, version and timings.
 */
export class DataPlane {
  constructor(
    private readonly deployments: DeploymentsCache,
    private readonly cache: ModelCache,
    private readonly random: () => number,
  ) {}

  /**
   * A pinned version is served as is (variant "pinned", never shadowed); otherwise the stage's
   * deployment decides, by sticky key when it names one and the request carries it.
   */
  async target(model: string, pinnedVersion: number | undefined, request?: RoutingInput): Promise<Target> {
    if (pinnedVersion !== undefined) return { version: pinnedVersion, variant: PINNED_VARIANT };
    const config = await this.deployments.current(model);
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
  loadedNow(model: string, target: Target, metric: Partial<RequestMetricEvent>): LoadedModel | undefined {
    const loaded = this.cache.peek(model, target.version);
    if (loaded === undefined) return undefined;
    metric.model = model;
    metric.version = target.version;
    metric.variant = target.variant;
    if (target.sticky === true) metric.sticky = true;
    metric.cache = 'hit';
    return loaded;
  }

  async load(model: string, target: Target, metric: Partial<RequestMetricEvent>): Promise<LoadedModel> {
    metric.model = model;
    metric.version = target.version;
    metric.variant = target.variant;
    if (target.sticky === true) metric.sticky = true;
    const lookup = await this.cache.get(model, target.version);
    metric.cache = lookup.hit ? 'hit' : 'miss';
    if (!lookup.hit) metric.loadMs = lookup.model.loadMs;
    return lookup.model;
  }

  async run(model: LoadedModel, call: InferCall, metric: Partial<RequestMetricEvent>): Promise<RunResult> {
    metric.batchSize = call.inputs.values().next().value?.shape[0] ?? 1;
    const result = await runInference(model, call);
    metric.inferenceMs = result.runMs;
    return result;
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
    metric: Partial<RequestMetricEvent>,
  ): Promise<void> {
    const started = performance.now();
    metric.shadowVersion = version;
    try {
      const { model: loaded } = await this.cache.get(model, version);
      const result = await runInference(loaded, parse(loaded));
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
