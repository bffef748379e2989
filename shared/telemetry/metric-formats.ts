import type { RequestMetricEvent } from './metric-event';

/**
 * Pure translations of the neutral request event into what each cloud's metric pipeline reads.
 * No SDK here: the AWS adapter prints the EMF line emf.ts builds, GCP and Azure print the
 * objects as JSON lines. Figure names and units are the same on every cloud so dashboards and
 * alarms can be written once (units use CloudWatch's names).
 */

export type MetricUnitName = 'Milliseconds' | 'Count';

export interface MetricFigure {
  name: string;
  unit: MetricUnitName;
  value: number;
}

/**
 * Every figure is present on every request (0/1 for flags) so averages are rates: the average of
 * `Errors` is the server-error rate, the average of `ColdStart` the cold-start rate.
 */
export function metricFigures(event: RequestMetricEvent): MetricFigure[] {
  const figures: MetricFigure[] = [
    { name: 'Requests', unit: 'Count', value: 1 },
    { name: 'Errors', unit: 'Count', value: event.status >= 500 ? 1 : 0 },
    { name: 'ClientErrors', unit: 'Count', value: event.status >= 400 && event.status < 500 ? 1 : 0 },
    { name: 'ColdStart', unit: 'Count', value: event.coldStart ? 1 : 0 },
    { name: 'Latency', unit: 'Milliseconds', value: round(event.latencyMs) },
  ];
  // What a rollout guard compares (shared/control/rollout-verdict.ts): latency of warm requests
  // that succeeded, so a burst of cold starts at a new canary weight is never read as a slow model.
  if (!event.coldStart && event.status < 400)
    figures.push({ name: 'WarmLatency', unit: 'Milliseconds', value: round(event.latencyMs) });
  if (event.inferenceMs !== undefined)
    figures.push({ name: 'InferenceLatency', unit: 'Milliseconds', value: round(event.inferenceMs) });
  if (event.loadMs !== undefined)
    figures.push({ name: 'ModelLoadTime', unit: 'Milliseconds', value: round(event.loadMs) });
  if (event.cache !== undefined) {
    figures.push({ name: 'CacheHit', unit: 'Count', value: event.cache === 'hit' ? 1 : 0 });
    figures.push({ name: 'CacheMiss', unit: 'Count', value: event.cache === 'miss' ? 1 : 0 });
  }
  if (event.batchSize !== undefined)
    figures.push({ name: 'BatchSize', unit: 'Count', value: event.batchSize });
  // Shadow figures only on requests sampled for a shadow; like the flags above, their averages
  // are what a dashboard reads (agreement rate, mean difference, shadow failure rate).
  if (event.shadowVersion !== undefined)
    figures.push({ name: 'ShadowErrors', unit: 'Count', value: event.shadowError === undefined ? 0 : 1 });
  if (event.shadowAgreement !== undefined)
    figures.push({ name: 'ShadowAgreement', unit: 'Count', value: event.shadowAgreement });
  if (event.shadowMeanAbsDiff !== undefined)
    figures.push({ name: 'ShadowMeanAbsDiff', unit: 'Count', value: event.shadowMeanAbsDiff });
  if (event.shadowLatencyDeltaMs !== undefined)
    figures.push({
      name: 'ShadowLatencyDelta',
      unit: 'Milliseconds',
      value: round(event.shadowLatencyDeltaMs),
    });
  monitoringFigures(event, figures);
  return figures;
}

/**
 * Capture, feedback and drift figures, present only on the events that carry them. Accuracy is
 * SUM(FeedbackCorrect) / SUM(FeedbackRows) over a period (metric math); `Accuracy`, `MAE` and
 * `DriftPSIMax` are the same per event, for quick averages.
 */
function monitoringFigures(event: RequestMetricEvent, figures: MetricFigure[]): void {
  if (event.captured !== undefined)
    figures.push({ name: 'Captured', unit: 'Count', value: event.captured ? 1 : 0 });
  if (event.captureDropped !== undefined)
    figures.push({ name: 'CaptureDropped', unit: 'Count', value: event.captureDropped });
  const rows = event.feedbackRows;
  if (rows !== undefined && rows > 0) {
    figures.push({ name: 'FeedbackRows', unit: 'Count', value: rows });
    if (event.feedbackCorrect !== undefined) {
      figures.push({ name: 'FeedbackCorrect', unit: 'Count', value: event.feedbackCorrect });
      figures.push({ name: 'Accuracy', unit: 'Count', value: event.feedbackCorrect / rows });
    }
    if (event.feedbackAbsError !== undefined) {
      figures.push({ name: 'FeedbackAbsError', unit: 'Count', value: event.feedbackAbsError });
      figures.push({ name: 'FeedbackSquaredError', unit: 'Count', value: event.feedbackSquaredError ?? 0 });
      figures.push({ name: 'MAE', unit: 'Count', value: event.feedbackAbsError / rows });
    }
  }
  if (event.driftPsiMax !== undefined)
    figures.push({ name: 'DriftPSIMax', unit: 'Count', value: event.driftPsiMax });
  if (event.predictionPsi !== undefined)
    figures.push({ name: 'PredictionPSI', unit: 'Count', value: event.predictionPsi });
  if (event.driftPsi !== undefined) {
    for (const [feature, value] of Object.entries(event.driftPsi)) {
      figures.push({ name: `PSI_${feature.replace(/[^\w.-]/g, '_')}`, unit: 'Count', value });
    }
  }
}

/**
 * Model requests are keyed by model/variant/version/stage (what a canary alarm compares); requests
 * that never reached a model (health, unknown routes) by route/stage, so they do not pollute the
 * per-variant series.
 */
export function metricDimensions(event: RequestMetricEvent): Record<string, string> {
  if (event.model === undefined) return { route: event.route, stage: event.stage };
  return {
    model: event.model,
    variant: event.variant ?? 'none',
    version: event.version === undefined ? 'none' : String(event.version),
    stage: event.stage,
  };
}

/** Searchable context that is not a metric: strings only (EMF metadata and label values). */
export function metricContext(event: RequestMetricEvent): Record<string, string> {
  const out: Record<string, string> = {
    requestId: event.requestId,
    route: event.route,
    method: event.method,
    status: String(event.status),
    coldStart: String(event.coldStart),
  };
  if (event.errorClass !== undefined) out['errorClass'] = event.errorClass;
  if (event.cache !== undefined) out['cache'] = event.cache;
  if (event.sticky === true) out['sticky'] = 'true';
  if (event.shadowVersion !== undefined) out['shadowVersion'] = String(event.shadowVersion);
  if (event.shadowError !== undefined) out['shadowError'] = event.shadowError;
  return out;
}

// ---- AWS: CloudWatch Embedded Metric Format: shared/telemetry/emf.ts writes the line ----

// ---- Google Cloud: a structured log line for log-based metrics ----

export const GCP_LABELS_KEY = 'logging.googleapis.com/labels';

export function toCloudLoggingEntry(event: RequestMetricEvent): Record<string, unknown> {
  const labels: Record<string, string> = { ...metricDimensions(event), ...metricContext(event) };
  delete labels['requestId'];
  const values: Record<string, number> = {};
  for (const figure of metricFigures(event)) values[fieldName(figure)] = figure.value;
  return {
    severity: event.status >= 500 ? 'ERROR' : event.status >= 400 ? 'WARNING' : 'INFO',
    message: summary(event),
    timestamp: event.timestamp,
    type: 'modelfleet.request',
    requestId: event.requestId,
    [GCP_LABELS_KEY]: labels,
    // Numbers stay at the top of jsonPayload: log-based distribution metrics EXTRACT them there.
    ...values,
  };
}

// ---- Azure: one JSON record through the invocation logger (traces / FunctionAppLogs) ----

export interface AzureLogRecord {
  level: 'information' | 'warning' | 'error';
  record: {
    event: 'modelfleet.request';
    timestamp: string;
    message: string;
    /** Dimensions and context, all strings (App Insights customDimensions style). */
    properties: Record<string, string>;
    /** Numbers only, named like the other clouds' figures (App Insights customMeasurements style). */
    measurements: Record<string, number>;
  };
}

export function toAzureLogRecord(event: RequestMetricEvent): AzureLogRecord {
  const measurements: Record<string, number> = {};
  for (const figure of metricFigures(event)) measurements[fieldName(figure)] = figure.value;
  return {
    level: event.status >= 500 ? 'error' : event.status >= 400 ? 'warning' : 'information',
    record: {
      event: 'modelfleet.request',
      timestamp: event.timestamp,
      message: summary(event),
      properties: { ...metricDimensions(event), ...metricContext(event) },
      measurements,
    },
  };
}

/** The entry's `message`: method, route, model@version/variant, status, error class, latency. */
export function summary(event: RequestMetricEvent): string {
  const target =
    event.model === undefined ? '' : ` ${event.model}@${event.version ?? '?'}/${event.variant ?? '?'}`;
  const failure = event.errorClass === undefined ? '' : ` ${event.errorClass}`;
  return `${event.method} ${event.route}${target} ${event.status}${failure} ${round(event.latencyMs)}ms`;
}

/** `Latency` → `latencyMs`, `Requests` → `requests`: JSON field names that carry their unit. */
export function fieldName(figure: MetricFigure): string {
  return (
    figure.name.charAt(0).toLowerCase() + figure.name.slice(1) + (figure.unit === 'Milliseconds' ? 'Ms' : '')
  );
}

// Microsecond precision is all a latency metric needs, and it keeps log lines short.
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
