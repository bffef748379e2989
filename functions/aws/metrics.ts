import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricSink } from '../../shared/telemetry/metric-event';
import { toEmfMetricSet } from '../../shared/telemetry/metric-formats';

export const METRICS_NAMESPACE = 'modelfleet';

/** One Powertools instance per Lambda instance, in the namespace `Config.metricsNamespace` names. */
export function createMetrics(namespace = METRICS_NAMESPACE) {
  const metrics = new Metrics({ namespace, serviceName: 'modelfleet' });
  // Powertools adds `service` to every dimension set; CloudWatch matches dimension sets exactly, and
  // the alarms and dashboard (infra/aws/metrics.json) read the sets without it.
  metrics.clearDefaultDimensions();
  return metrics;
}

/**
 * Stores the request's figures in Powertools; the handler's `logMetrics` middleware prints them as
 * one EMF document after the request, on success and on error alike.
 */
export function powertoolsSink(metrics: Metrics): MetricSink {
  let stage: string | undefined;
  return (event) => {
    const set = toEmfMetricSet(event);
    // `stage` is a default dimension, so it joins both sets: the per-version one and, through the
    // empty set, the stage-wide one the rollback alarms read (infra/aws/metrics.json). Naming it in
    // two sets instead makes Powertools warn on every request. Set only on change: re-setting warns.
    if (event.stage !== stage) {
      metrics.setDefaultDimensions({ stage: event.stage });
      stage = event.stage;
    }
    // Two dimension sets: the event's own and, through the empty set, the stage-wide one. One
    // `addDimensions` call per set prints the same document as an `addDimension` per name followed
    // by `addDimensions({})` (same sets, same key order), with two fewer Powertools calls, each of
    // which copies its stores and reads process.env (test/telemetry/metric-formats.test.ts).
    const own: Record<string, string> = {};
    for (const name of Object.keys(set.dimensions)) {
      if (name !== 'stage') own[name] = set.dimensions[name] as string;
    }
    metrics.addDimensions(own);
    metrics.addDimensions({});
    for (const figure of set.metrics) metrics.addMetric(figure.name, MetricUnit[figure.unit], figure.value);
    for (const [key, value] of Object.entries(set.metadata)) metrics.addMetadata(key, value);
    metrics.setTimestamp(set.timestamp);
  };
}
