import { pickVariant } from './deployment';
import type { DeploymentsCache } from './deployments-cache';
import { runInference } from './inference';
import type { RequestMetricEvent } from './metrics';
import type { LoadedModel, ModelCache } from './model-cache';
import { type Limits, parseInferRequest } from './protocol/oip';

export interface Target {
  version: number;
  variant: string;
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
    private readonly limits: Limits,
    private readonly random: () => number,
  ) {}

  async target(model: string, pinnedVersion: number | undefined): Promise<Target> {
    if (pinnedVersion !== undefined) return { version: pinnedVersion, variant: PINNED_VARIANT };
    const config = await this.deployments.current(model);
    const variant = pickVariant(config.variants, this.random());
    return { version: variant.version, variant: variant.name };
  }

  async load(model: string, target: Target, metric: Partial<RequestMetricEvent>): Promise<LoadedModel> {
    metric.model = model;
    metric.version = target.version;
    metric.variant = target.variant;
    const lookup = await this.cache.get(model, target.version);
    metric.cache = lookup.hit ? 'hit' : 'miss';
    if (!lookup.hit) metric.loadMs = lookup.model.loadMs;
    return lookup.model;
  }

  async infer(
    model: LoadedModel,
    target: Target,
    body: unknown,
    requestId: string,
    metric: Partial<RequestMetricEvent>,
  ) {
    const call = parseInferRequest(body, model, this.limits);
    metric.batchSize = call.inputs.values().next().value?.shape[0] ?? 1;
    const { outputs, runMs } = await runInference(model, call);
    metric.inferenceMs = runMs;
    return {
      model_name: model.name,
      model_version: String(model.version),
      id: call.id ?? requestId,
      parameters: { variant: target.variant },
      outputs,
    };
  }
}
