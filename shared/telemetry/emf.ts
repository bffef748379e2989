import { numberText, quoted } from './json-text';
import type { RequestMetricEvent } from './metric-event';
import { type MetricFigure, metricContext, metricDimensions, metricFigures } from './metric-formats';

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
    const key = quoted(name);
    ownNames += `,${key}`;
    ownValues += `,${key}:${quoted(value)}`;
  }
  const hasStage = stage !== undefined && stage !== '';
  const stageName = hasStage ? `"${STAGE}"` : '';
  const ownSet = hasStage ? `[${stageName}${ownNames}]` : `[${ownNames.slice(1)}]`;
  let definitions = '';
  let values = '';
  // A figure named twice (two drift features that sanitise alike) becomes one metric with a list
  // of values, as Powertools stores it; that is rare, so the list is built only then.
  let repeated: Map<string, number[]> | undefined;
  for (let i = 0; i < figures.length; i++) {
    const figure = figures[i] as MetricFigure;
    if (repeated?.has(figure.name) || figures.findIndex((f) => f.name === figure.name) !== i) {
      repeated ??= new Map();
      const list = repeated.get(figure.name);
      if (list === undefined) repeated.set(figure.name, [figure.value]);
      else list.push(figure.value);
      continue;
    }
    const fragments = fragmentsOf(figure);
    definitions += fragments.definition;
    values += `${fragments.key}${numberText(figure.value)}`;
  }
  if (repeated !== undefined) values = withRepeats(figures, repeated);
  let text = `{"_aws":{"Timestamp":${Date.parse(event.timestamp)},"CloudWatchMetrics":[{"Namespace":${quoted(namespace)},"Dimensions":[${ownSet},[${stageName}]],"Metrics":[${definitions.slice(1)}]}]}`;
  const context = metricContext(event);
  for (const key in context) {
    if (Object.hasOwn(dimensions, key)) continue;
    text += `,${quoted(key)}:${quoted(context[key] as string)}`;
  }
  if (hasStage) text += `,"${STAGE}":${quoted(stage)}`;
  return `${text}${ownValues}${values}}\n`;
}

/** The values part when some figure is named more than once: each name once, in first-seen order. */
function withRepeats(figures: readonly MetricFigure[], repeated: ReadonlyMap<string, number[]>): string {
  let values = '';
  const done = new Set<string>();
  for (const figure of figures) {
    if (done.has(figure.name)) continue;
    done.add(figure.name);
    const extra = repeated.get(figure.name);
    const value = extra === undefined ? numberText(figure.value) : JSON.stringify([figure.value, ...extra]);
    values += `${fragmentsOf(figure).key}${value}`;
  }
  return values;
}

interface Fragments {
  definition: string;
  key: string;
}

// The text of each figure's metric definition and value key, made once per name and unit (the
// same dozen names on nearly every request; drift feature names are bounded by the models').
// One map per unit, keyed by the name: the names are literals, so a lookup hashes no new string (a
// "unit:name" key was a new string per figure per request, half the line's cost).
const fragmentCache: Record<MetricFigure['unit'], Map<string, Fragments>> = {
  Count: new Map(),
  Milliseconds: new Map(),
};
const FRAGMENT_CACHE_LIMIT = 1000;

function fragmentsOf(figure: MetricFigure): Fragments {
  const known = fragmentCache[figure.unit];
  let fragments = known.get(figure.name);
  if (fragments === undefined) {
    const name = quoted(figure.name);
    fragments = { definition: `,{"Name":${name},"Unit":"${figure.unit}"}`, key: `,${name}:` };
    if (known.size < FRAGMENT_CACHE_LIMIT) known.set(figure.name, fragments);
  }
  return fragments;
}
