/**
 * What a rollout guard reads: per-variant aggregates over one evaluation window, the same shape
 * whichever platform answered (CloudWatch, Cloud Monitoring, Log Analytics, the local lines).
 */

export interface LatencySummary {
  /** Warm requests the percentiles are over (cold starts are never in them). */
  count: number;
  p50: number;
  p99: number;
}

export interface AccuracySummary {
  /** Requests with feedback, and how many of them the model got right. */
  count: number;
  correct: number;
}

export interface VariantAggregate {
  /** Every request that reached the variant, 4xx included. */
  requests: number;
  /** 5xx: what the model or the platform got wrong. */
  serverErrors: number;
  /** 4xx: what the client got wrong; reported, never judged. */
  clientErrors: number;
  coldStarts: number;
  /** Warm requests only; undefined when the source had none. */
  warmLatency?: LatencySummary;
  /** Present only when feedback exists for the window (the monitoring side records it). */
  accuracy?: AccuracySummary;
}

export interface EvaluationWindow {
  start: Date;
  end: Date;
  primary: VariantAggregate;
  canary: VariantAggregate;
}

/** Which series to read: the stage's model, and each side's variant name and version. */
export interface WindowQuery {
  model: string;
  stage: string;
  primary: { variant: string; version: number };
  canary: { variant: string; version: number };
  start: Date;
  end: Date;
}

/** One per platform; each turns the query into its API's request and the answer into aggregates. */
export interface MetricSource {
  readonly name: string;
  window(query: WindowQuery): Promise<EvaluationWindow>;
}

export const EMPTY_AGGREGATE: VariantAggregate = {
  requests: 0,
  serverErrors: 0,
  clientErrors: 0,
  coldStarts: 0,
};

/** Requests the error tests judge: everything but the client's own mistakes. */
export function judgedRequests(aggregate: VariantAggregate): number {
  return Math.max(0, aggregate.requests - aggregate.clientErrors);
}
