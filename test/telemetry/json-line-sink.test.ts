import { jsonLineSink, type RequestMetricEvent } from '../../shared/telemetry/metric-event';

// jsonLineSink splices `"type"` into the event's JSON instead of stringifying a spread copy; the
// line must stay byte-for-byte what `JSON.stringify({ type, ...event })` printed.
describe('jsonLineSink', () => {
  const base: RequestMetricEvent = {
    timestamp: '2026-11-27T15:00:00.000Z',
    requestId: 'r-1',
    stage: 'dev',
    route: 'infer',
    method: 'POST',
    status: 200,
    coldStart: false,
    latencyMs: 0.25,
  };
  const events: RequestMetricEvent[] = [
    base,
    {
      ...base,
      status: 400,
      errorClass: 'invalid_input',
      model: 'iris "quoted" \u2028',
      version: 3,
      variant: 'canary',
      inferenceMs: 0.01,
      cache: 'hit',
      batchSize: 2,
      sticky: true,
      shadowVersion: 4,
      shadowAgreement: 0.5,
    },
  ];

  it.each(events)('prints the same line as stringifying { type, ...event }', (event) => {
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      jsonLineSink(event);
    } finally {
      spy.mockRestore();
    }
    expect(written).toEqual([`${JSON.stringify({ type: 'modelfleet.request', ...event })}\n`]);
    expect(JSON.parse(written[0] ?? '')).toEqual({ type: 'modelfleet.request', ...event });
  });
});
