import { numberText, quoted } from './json-text';
import type { RequestMetricEvent } from './metric-event';
import {
  fieldName,
  GCP_LABELS_KEY,
  type MetricFigure,
  metricContext,
  metricDimensions,
  metricFigures,
  summary,
} from './metric-formats';

/**
 * The GCP function's Cloud Logging line, written directly: the JSON text of `toCloudLoggingEntry`
 * (metric-formats.ts) for the same event, without building that object (a labels spread, a
 * `delete`, a figures spread) and stringifying it, which was ≈ 6 % of the GCP function's profile.
 * The constant parts are literals, each figure's key is made once per name, and only strings are
 * escaped (test/telemetry/cloud-logging.test.ts compares both as parsed JSON for every kind of
 * event; test/infra/gcp.test.ts runs the log-based metric filters on these lines).
 */
export function cloudLoggingLine(event: RequestMetricEvent): string {
  const opening = event.status >= 500 ? ERROR : event.status >= 400 ? WARNING : INFO;
  return `${opening}${quoted(summary(event))},"timestamp":${quoted(event.timestamp)},"type":"modelfleet.request","requestId":${quoted(event.requestId)},${LABELS}{${labelsText(event)}}${figuresText(event)}}\n`;
}

const ERROR = '{"severity":"ERROR","message":';
const WARNING = '{"severity":"WARNING","message":';
const INFO = '{"severity":"INFO","message":';
const LABELS = `${JSON.stringify(GCP_LABELS_KEY)}:`;

/** `{...dimensions, ...context}` without `requestId` (it is a top-level field): keys in that order. */
function labelsText(event: RequestMetricEvent): string {
  const dimensions = metricDimensions(event);
  const context = metricContext(event);
  let text = '';
  for (const key in dimensions) {
    const value = (Object.hasOwn(context, key) ? context[key] : dimensions[key]) as string;
    text += `,${labelKey(key)}${quoted(value)}`;
  }
  for (const key in context) {
    if (key === 'requestId' || Object.hasOwn(dimensions, key)) continue;
    text += `,${labelKey(key)}${quoted(context[key] as string)}`;
  }
  return text.slice(1);
}

/** Each figure as a top-level field (log-based distribution metrics EXTRACT them there). */
function figuresText(event: RequestMetricEvent): string {
  const figures = metricFigures(event);
  // Names repeat only through drift features that sanitise alike (`a b`, `a_b`): as in the object,
  // the last value is kept at the first one's place.
  if (event.driftPsi !== undefined) return withRepeats(figures);
  let text = '';
  for (const figure of figures) text += `${keyOf(figure)}${numberText(figure.value)}`;
  return text;
}

function withRepeats(figures: readonly MetricFigure[]): string {
  const values = new Map<string, number>();
  for (const figure of figures) values.set(keyOf(figure), figure.value);
  let text = '';
  for (const [key, value] of values) text += `${key}${numberText(value)}`;
  return text;
}

// `,"latencyMs":` per figure name, one map per unit: the names are literals (drift feature names
// are bounded by the models'), so looking them up hashes no new string, as a "unit:name" key would.
const keys: Record<MetricFigure['unit'], Map<string, string>> = { Count: new Map(), Milliseconds: new Map() };
const KEYS_LIMIT = 1000;

function keyOf(figure: MetricFigure): string {
  const known = keys[figure.unit];
  let key = known.get(figure.name);
  if (key === undefined) {
    key = `,${quoted(fieldName(figure))}:`;
    if (known.size < KEYS_LIMIT) known.set(figure.name, key);
  }
  return key;
}

// `"model":` and the like: the label names are the few literals of metricDimensions and metricContext.
const labelKeys = new Map<string, string>();

function labelKey(name: string): string {
  let key = labelKeys.get(name);
  if (key === undefined) {
    key = `${quoted(name)}:`;
    if (labelKeys.size < KEYS_LIMIT) labelKeys.set(name, key);
  }
  return key;
}
