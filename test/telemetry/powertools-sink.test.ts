/**
 * The AWS sink makes as few Powertools calls as it can; the document Powertools prints must stay
 * byte for byte the one of the plain call sequence (one addDimension per dimension, then the
 * empty set), which test/telemetry/metric-formats.test.ts checks against infra/aws/metrics.json.
 */
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createMetrics, powertoolsSink } from '../../functions/aws/metrics';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { toEmfMetricSet } from '../../shared/telemetry/metric-formats';
import { notFoundEvent, successEvent } from '../support/metric-events';

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

/** The straightforward way to hand the event to Powertools: one call per dimension, figure, key. */
function plainSink(metrics: Metrics) {
  let stage: string | undefined;
  return (event: RequestMetricEvent) => {
    const set = toEmfMetricSet(event);
    if (event.stage !== stage) {
      metrics.setDefaultDimensions({ stage: event.stage });
      stage = event.stage;
    }
    for (const [name, value] of Object.entries(set.dimensions)) {
      if (name !== 'stage') metrics.addDimension(name, value);
    }
    metrics.addDimensions({});
    for (const figure of set.metrics) metrics.addMetric(figure.name, MetricUnit[figure.unit], figure.value);
    for (const [key, value] of Object.entries(set.metadata)) metrics.addMetadata(key, value);
    metrics.setTimestamp(set.timestamp);
  };
}

const base: RequestMetricEvent = successEvent;

const events: RequestMetricEvent[] = [
  base,
  { ...base, requestId: 'r-2', coldStart: false, cache: 'hit', loadMs: undefined, sticky: true },
  {
    ...base,
    requestId: 'r-3',
    coldStart: false,
    shadowVersion: 4,
    shadowAgreement: 0.5,
    shadowLatencyDeltaMs: 0.1,
  },
  { ...notFoundEvent, requestId: 'r-4' },
  { ...base, requestId: 'r-5', stage: 'dev', status: 500, errorClass: 'internal' },
];

describe('powertoolsSink', () => {
  it('prints exactly the document of the plain Powertools call sequence', () => {
    const ours = createMetrics('modelfleet');
    const plain = createMetrics('modelfleet');
    const sink = powertoolsSink(ours);
    const reference = plainSink(plain);
    for (const event of events) {
      const clean = JSON.parse(JSON.stringify(event)) as RequestMetricEvent; // drops undefined keys
      const actual = printed(() => {
        sink(clean);
        ours.publishStoredMetrics();
      });
      const expected = printed(() => {
        reference(clean);
        plain.publishStoredMetrics();
      });
      expect(actual).toHaveLength(1);
      expect(actual).toEqual(expected);
    }
  });
});
