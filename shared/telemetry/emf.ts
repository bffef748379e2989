import type { RequestMetricEvent } from './metric-event';
import { metricContext, metricDimensions, metricFigures } from './metric-formats';

/**
 * CloudWatch Embedded Metric Format, written directly: the document Powertools Metrics printed for
 * the same event (test/telemetry/emf.test.ts compares the two as parsed JSON), built as one string
 * instead of through Powertools' stores, which re-read the environment on every access (most of
 * the AWS handler's cost on a small model, docs/benchmarks.md).
 *
 * The shape, in Powertools' key order: `_aws` (timestamp, namespace, two dimension sets: the
 * event's own names after the `stage` default dimension, and `stage` alone for the stage-wide
 * series the rollback alarms read), then the metadata, the dimension values and the figures.
 */

/** CloudWatch reads at most 100 metrics per directive; more figures go out as further documents. */
export const EMF_MAX_METRICS = 100;

const STAGE = 'stage';

/**
 * The EMF document(s) for one request, each a JSON object on its own line, newline-terminated:
 * what the AWS adapter writes to stdout (Lambda's log stream; CloudWatch extracts the metrics).
 */
export function emfLines(event: RequestMetricEvent, namespace: string): string {
  const figures = metricFigures(event);
  if (figures.length <= EMF_MAX_METRICS) return emfDocument(event, namespace, figures);
  // Every document carries the dimensions and metadata, so each chunk lands in the same series.
  let text = '';
  for (let at = 0; at < figures.length; at += EMF_MAX_METRICS) {
    text += emfDocument(event, namespace, figures.slice(at, at + EMF_MAX_METRICS));
  }
  return text;
}

function emfDocument(
  event: RequestMetricEvent,
  namespace: string,
  figures: ReturnType<typeof metricFigures>,
): string {
  const dimensions = metricDimensions(event);
  const stage = dimensions[STAGE];
  // Powertools skips a dimension whose value is empty (CloudWatch refuses it); so does this.
  let ownNames = '';
  let ownValues = '';
  for (const name in dimensions) {
    const value = dimensions[name] as string;
    if (name === STAGE || value === '') continue;
    ownNames += `,${JSON.stringify(name)}`;
    ownValues += `,${JSON.stringify(name)}:${JSON.stringify(value)}`;
  }
  const hasStage = stage !== undefined && stage !== '';
  const stageName = hasStage ? `"${STAGE}"` : '';
  const ownSet = hasStage ? `[${stageName}${ownNames}]` : `[${ownNames.slice(1)}]`;
  // A figure named twice (two drift features that sanitise alike) becomes one metric with a list
  // of values, as Powertools stores it.
  const values = new Map<string, number | number[]>();
  let definitions = '';
  for (const figure of figures) {
    const seen = values.get(figure.name);
    if (seen === undefined) {
      values.set(figure.name, figure.value);
      definitions += `,{"Name":${JSON.stringify(figure.name)},"Unit":"${figure.unit}"}`;
    } else {
      values.set(figure.name, Array.isArray(seen) ? [...seen, figure.value] : [seen, figure.value]);
    }
  }
  let text = `{"_aws":{"Timestamp":${Date.parse(event.timestamp)},"CloudWatchMetrics":[{"Namespace":${JSON.stringify(namespace)},"Dimensions":[${ownSet},[${stageName}]],"Metrics":[${definitions.slice(1)}]}]}`;
  const context = metricContext(event);
  for (const key in context) {
    if (Object.hasOwn(dimensions, key)) continue;
    text += `,${JSON.stringify(key)}:${JSON.stringify(context[key])}`;
  }
  if (hasStage) text += `,"${STAGE}":${JSON.stringify(stage)}`;
  text += ownValues;
  for (const [name, value] of values) text += `,${JSON.stringify(name)}:${JSON.stringify(value)}`;
  return `${text}}\n`;
}
