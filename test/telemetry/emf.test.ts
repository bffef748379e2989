/**
 * The AWS adapter writes its EMF document itself (shared/telemetry/emf.ts). CloudWatch must see
 * exactly what it saw when Powertools Metrics printed it: this builds every event through
 * Powertools (a dev dependency kept for this comparison) with the plain call sequence the adapter
 * used, and compares the documents.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { emfSink } from '../../functions/aws/metrics';
import { EMF_MAX_METRICS, emfLines } from '../../shared/telemetry/emf';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { metricContext, metricDimensions, metricFigures } from '../../shared/telemetry/metric-formats';
import { everyKindOfEvent, successEvent } from '../support/metric-events';

function printed(act: () => void): string[] {
  const lines: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  });
  try {
    act();
  } finally {
    spy.mockRestore();
  }
  return lines;
}

/** How the adapter drove Powertools before: stage as a default dimension, the event's set, the empty set. */
function powertoolsDocument(event: RequestMetricEvent, namespace: string): string[] {
  const metrics = new Metrics({ namespace, serviceName: 'modelfleet' });
  metrics.clearDefaultDimensions();
  const dimensions = metricDimensions(event);
  const metadata = metricContext(event);
  for (const name of Object.keys(dimensions)) delete metadata[name];
  metrics.setDefaultDimensions({ stage: event.stage });
  for (const [name, value] of Object.entries(dimensions)) {
    if (name !== 'stage') metrics.addDimension(name, value);
  }
  metrics.addDimensions({});
  for (const figure of metricFigures(event))
    metrics.addMetric(figure.name, MetricUnit[figure.unit], figure.value);
  for (const [key, value] of Object.entries(metadata)) metrics.addMetadata(key, value);
  metrics.setTimestamp(new Date(event.timestamp));
  return printed(() => metrics.publishStoredMetrics());
}

const now = Date.now();
const base: RequestMetricEvent = { ...successEvent, timestamp: new Date(now).toISOString() };
const events = everyKindOfEvent(now);

describe('EMF written directly', () => {
  for (const [name, event] of Object.entries(events)) {
    it(`prints what Powertools printed: ${name}`, () => {
      const clean = JSON.parse(JSON.stringify(event)) as RequestMetricEvent; // drops undefined keys
      const expected = powertoolsDocument(clean, 'modelfleet');
      const actual = printed(() => emfSink('modelfleet')(clean));
      expect(actual).toHaveLength(1);
      expect(expected).toHaveLength(1);
      // The same document as parsed JSON (what CloudWatch reads), and in fact the same bytes.
      expect(JSON.parse(actual[0] as string)).toEqual(JSON.parse(expected[0] as string));
      expect(actual).toEqual(expected);
    });
  }

  it('names the configured namespace and writes one newline-terminated line per request', () => {
    const text = emfLines(events['cold start with a model load'] as RequestMetricEvent, 'team-a/models');
    expect(text.endsWith('}\n')).toBe(true);
    expect(text.indexOf('\n')).toBe(text.length - 1);
    const doc = JSON.parse(text);
    expect(doc._aws.CloudWatchMetrics[0].Namespace).toBe('team-a/models');
    expect(doc._aws.Timestamp).toBe(now);
  });

  it('splits more than 100 figures into documents that each keep the dimensions and metadata', () => {
    const driftPsi: Record<string, number> = {};
    for (let i = 0; i < 130; i++) driftPsi[`f${i}`] = i / 1000;
    const event: RequestMetricEvent = { ...base, coldStart: false, driftPsi };
    const docs = emfLines(event, 'modelfleet')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(docs).toHaveLength(2);
    const names: string[] = [];
    for (const doc of docs) {
      const [directive] = doc._aws.CloudWatchMetrics;
      expect(directive.Metrics.length).toBeLessThanOrEqual(EMF_MAX_METRICS);
      expect(directive.Dimensions).toEqual([['stage', 'model', 'variant', 'version'], ['stage']]);
      expect(doc).toMatchObject({ stage: 'prod', model: 'iris', requestId: 'r-1', status: '200' });
      for (const metric of directive.Metrics) {
        expect(typeof doc[metric.Name]).toBe('number');
        names.push(metric.Name);
      }
    }
    expect(names).toHaveLength(new Set(names).size);
    expect(names).toContain('PSI_f129');
    expect(names).toContain('Requests');
  });

  it('keeps a figure named twice as one metric with both values, as Powertools stores it', () => {
    const event: RequestMetricEvent = { ...base, driftPsi: { 'a b': 0.1, a_b: 0.2 } };
    const clean = JSON.parse(JSON.stringify(event)) as RequestMetricEvent;
    const [line] = printed(() => emfSink('modelfleet')(clean));
    const doc = JSON.parse(line as string);
    expect(doc.PSI_a_b).toEqual([0.1, 0.2]);
    expect(
      doc._aws.CloudWatchMetrics[0].Metrics.filter((m: { Name: string }) => m.Name === 'PSI_a_b'),
    ).toHaveLength(1);
    expect(JSON.parse(powertoolsDocument(clean, 'modelfleet')[0] as string)).toEqual(doc);
  });
});
