import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';

/** A successful inference on a canary version that had to be loaded: every figure is present. */
export const successEvent: RequestMetricEvent = {
  timestamp: '2026-11-27T12:00:00.000Z',
  requestId: 'r-1',
  stage: 'prod',
  route: 'infer',
  method: 'POST',
  status: 200,
  model: 'iris',
  version: 3,
  variant: 'canary',
  coldStart: true,
  latencyMs: 12.3456789,
  inferenceMs: 0.25,
  loadMs: 80,
  cache: 'miss',
  batchSize: 2,
};

/** A request no route matched: no model, version or timings. */
export const notFoundEvent: RequestMetricEvent = {
  timestamp: '2026-11-27T12:00:01.000Z',
  requestId: 'r-2',
  stage: 'prod',
  route: 'unknown',
  method: 'GET',
  status: 404,
  errorClass: 'not_found',
  coldStart: false,
  latencyMs: 0.5,
};

/**
 * One event of every kind a metric line must carry (the per-cloud formats' tests compare their
 * lines on these), timestamped `now` and a few ms before.
 */
export function everyKindOfEvent(now: number): Record<string, RequestMetricEvent> {
  const at = (offsetMs: number) => new Date(now - offsetMs).toISOString();
  const base: RequestMetricEvent = { ...successEvent, timestamp: at(0) };
  return {
    'cold start with a model load': base,
    'warm cache hit, sticky pick': {
      ...base,
      timestamp: at(1),
      requestId: 'r-2',
      coldStart: false,
      cache: 'hit',
      loadMs: undefined,
      sticky: true,
    },
    'shadow sample (classifier)': {
      ...base,
      timestamp: at(2),
      coldStart: false,
      shadowVersion: 4,
      shadowAgreement: 0.5,
      shadowLatencyDeltaMs: 0.1234567,
      shadowMs: 3,
    },
    'shadow sample (regressor) that failed': {
      ...base,
      timestamp: at(3),
      coldStart: false,
      shadowVersion: 4,
      shadowMeanAbsDiff: 0.25,
      shadowError: 'shadow_failed',
    },
    '3xx (not modified)': { ...base, timestamp: at(4), coldStart: false, status: 304 },
    '4xx, no model (unknown route)': { ...notFoundEvent, timestamp: at(5) },
    '4xx on a model (invalid input)': {
      ...base,
      timestamp: at(6),
      status: 400,
      errorClass: 'invalid_input',
      inferenceMs: undefined,
      batchSize: undefined,
    },
    '5xx on a model, no version picked': {
      ...base,
      timestamp: at(7),
      status: 503,
      errorClass: 'unavailable',
      version: undefined,
      variant: undefined,
    },
    '5xx without a model on another stage': {
      ...notFoundEvent,
      timestamp: at(8),
      stage: 'dev',
      route: 'health',
      status: 500,
      errorClass: 'internal',
    },
    'capture, feedback and drift': {
      ...base,
      timestamp: at(9),
      coldStart: false,
      captured: true,
      captureDropped: 2,
      feedbackRows: 4,
      feedbackCorrect: 3,
      feedbackAbsError: 1.5,
      feedbackSquaredError: 0.75,
      driftPsi: { 'petal length': 0.3, sepal_width: 0.01 },
      driftPsiMax: 0.3,
      predictionPsi: 0.02,
    },
    'strings that need escaping': {
      ...base,
      timestamp: at(10),
      requestId: 'r "quoted" \\ \u2028 ✓',
      model: 'iris\ttab',
    },
  };
}
