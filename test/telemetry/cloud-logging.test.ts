/**
 * The GCP function writes its Cloud Logging line as text (shared/telemetry/cloud-logging.ts).
 * Cloud Logging and the log-based metrics (infra/gcp/monitoring.tf) must read exactly what they
 * read when the line was `JSON.stringify(toCloudLoggingEntry(event))`: every kind of event, and
 * seeded random ones, are compared as parsed JSON (key order included) and as text.
 */
import { cloudLoggingSink } from '../../functions/gcp/handler';
import { cloudLoggingLine } from '../../shared/telemetry/cloud-logging';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { GCP_LABELS_KEY, toCloudLoggingEntry } from '../../shared/telemetry/metric-formats';
import { everyKindOfEvent, notFoundEvent, successEvent } from '../support/metric-events';
import { seededRandom } from '../support/random';

/** What the line was before: the entry object, stringified (undefined fields dropped). */
function entryLine(event: RequestMetricEvent): string {
  return `${JSON.stringify(toCloudLoggingEntry(event))}\n`;
}

/** Parsed, with every object's keys listed so that the comparison also checks their order. */
function withKeyOrder(line: string): unknown {
  const order = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const entries = Object.entries(value).map(([key, inner]) => [key, order(inner)]);
    return { keys: entries.map(([key]) => key), values: Object.fromEntries(entries) };
  };
  return order(JSON.parse(line));
}

function expectSameLine(event: RequestMetricEvent): void {
  const line = cloudLoggingLine(event);
  expect(line.endsWith('}\n')).toBe(true);
  expect(line.indexOf('\n')).toBe(line.length - 1);
  expect(withKeyOrder(line)).toEqual(withKeyOrder(entryLine(event)));
  // And the same bytes: JSON.parse keeps one of two equal keys, so only the text shows a repeat.
  expect(line).toBe(entryLine(event));
}

describe('Cloud Logging line written directly', () => {
  for (const [name, event] of Object.entries(everyKindOfEvent(Date.now()))) {
    it(`is the entry toCloudLoggingEntry built: ${name}`, () => {
      expectSameLine(JSON.parse(JSON.stringify(event)) as RequestMetricEvent);
    });
  }

  it('keeps a figure named twice once, with the last value, where the first one was', () => {
    const event: RequestMetricEvent = { ...successEvent, driftPsi: { 'a b': 0.1, x: 1, a_b: 0.2 } };
    expectSameLine(event);
    const line = JSON.parse(cloudLoggingLine(event)) as Record<string, unknown>;
    expect(line['pSI_a_b']).toBe(0.2);
    expect(Object.keys(line).indexOf('pSI_a_b')).toBeLessThan(Object.keys(line).indexOf('pSI_x'));
  });

  it('prints non-finite figures as JSON does (null) and escapes any string', () => {
    expectSameLine({ ...successEvent, latencyMs: Number.NaN, inferenceMs: Number.POSITIVE_INFINITY });
    expectSameLine({ ...notFoundEvent, route: 'a"b\\c', method: 'GE\nT', stage: '\u0000\u2028é' });
  });

  it('matches on seeded random events (optional fields, statuses, odd strings)', () => {
    const random = seededRandom(21);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const text = () =>
      pick(['iris', 'a b', 'q"uote', 'back\\slash', 'tab\t', 'ünï', '', '\u2028', 'x/y:z@1']);
    const maybe = <T>(value: T): T | undefined => (random() < 0.5 ? value : undefined);
    for (let i = 0; i < 300; i++) {
      const withModel = random() < 0.7;
      const event: RequestMetricEvent = {
        timestamp: new Date(1_700_000_000_000 + i * 1234).toISOString(),
        requestId: text(),
        stage: text(),
        route: pick(['infer', 'unknown', 'health', text()]),
        method: pick(['GET', 'POST', text()]),
        status: pick([200, 204, 304, 400, 404, 429, 500, 503]),
        coldStart: random() < 0.2,
        latencyMs: random() * 100,
        ...(withModel
          ? { model: text(), version: maybe(Math.floor(random() * 9)), variant: maybe(text()) }
          : {}),
        errorClass: maybe(text()),
        inferenceMs: maybe(random()),
        loadMs: maybe(random() * 50),
        cache: maybe(pick(['hit', 'miss'] as const)),
        batchSize: maybe(Math.ceil(random() * 8)),
        sticky: maybe(true),
        shadowVersion: maybe(2),
        shadowAgreement: maybe(random()),
        shadowMeanAbsDiff: maybe(random()),
        shadowLatencyDeltaMs: maybe(random() - 0.5),
        shadowError: maybe(text()),
        captured: maybe(random() < 0.5),
        feedbackRows: maybe(Math.floor(random() * 3)),
        feedbackCorrect: maybe(1),
        feedbackAbsError: maybe(random()),
        driftPsi: maybe({ [text()]: random(), [text()]: random() }),
      };
      expectSameLine(JSON.parse(JSON.stringify(event)) as RequestMetricEvent);
    }
  });

  it('is what the sink writes, one write per event', () => {
    const writes: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      cloudLoggingSink(successEvent);
    } finally {
      spy.mockRestore();
    }
    expect(writes).toEqual([cloudLoggingLine(successEvent)]);
    expect((JSON.parse(writes[0] as string) as Record<string, unknown>)[GCP_LABELS_KEY]).toMatchObject({
      model: 'iris',
    });
  });
});
