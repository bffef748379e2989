import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricSink } from '../../shared/metrics';
import { toEmfMetricSet } from '../../shared/metrics-format';

export const METRICS_NAMESPACE = 'modelfleet';

/** One Powertools instance per Lambda instance; POWERTOOLS_METRICS_NAMESPACE overrides the namespace. */
export function createMetrics(namespace = process.env['POWERTOOLS_METRICS_NAMESPACE'] || METRICS_NAMESPACE) {
  return new Metrics({ namespace, serviceName: 'modelfleet' });
}

/**
 * Stores the request's figures in Powertools; the handler's `logMetrics` middleware prints them as
 * one EMF document after the request, on success and on error alike.
 */
export function powertoolsSink(metrics: Metrics): MetricSink {
  return (event) => {
    const set = toEmfMetricSet(event);
    metrics.addDimensions(set.dimensions);
    for (const figure of set.metrics) metrics.addMetric(figure.name, MetricUnit[figure.unit], figure.value);
    for (const [key, value] of Object.entries(set.metadata)) metrics.addMetadata(key, value);
    metrics.setTimestamp(set.timestamp);
  };
}
