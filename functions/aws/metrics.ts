import { emfLines } from '../../shared/telemetry/emf';
import type { MetricSink } from '../../shared/telemetry/metric-event';

export const METRICS_NAMESPACE = 'modelfleet';

/**
 * Prints each request's EMF document on stdout as the core records it: one synchronous write per
 * request, never batched (a frozen or killed instance would lose the lines still buffered). Raw
 * stdout, not console.log: Lambda's console prefixes each line, and CloudWatch reads EMF only from
 * lines that are a JSON object.
 */
export function emfSink(namespace = METRICS_NAMESPACE): MetricSink {
  return (event) => {
    process.stdout.write(emfLines(event, namespace));
  };
}
