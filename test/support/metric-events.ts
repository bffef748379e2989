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
