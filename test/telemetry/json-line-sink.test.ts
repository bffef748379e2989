import {
  batchedJsonLineSink,
  jsonLineSink,
  type RequestMetricEvent,
} from '../../shared/telemetry/metric-event';

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

  describe('batched (the servers)', () => {
    const lineOf = (event: RequestMetricEvent) =>
      `${JSON.stringify({ type: 'modelfleet.request', ...event })}\n`;
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

    it('writes the lines of one event-loop turn in one write, the same text in the same order', async () => {
      const writes: string[] = [];
      const sink = batchedJsonLineSink((text) => writes.push(text));
      const turn = Array.from({ length: 50 }, (_, i) => ({ ...base, requestId: `r-${i}` }));
      for (const event of turn) sink(event);
      expect(writes).toEqual([]);
      await nextTurn();
      expect(writes).toEqual([turn.map(lineOf).join('')]);
      sink(events[1] as RequestMetricEvent);
      await nextTurn();
      expect(writes).toHaveLength(2);
      expect(writes[1]).toBe(lineOf(events[1] as RequestMetricEvent));
    });

    it('writes at once past 64 KiB, and flush() writes what is pending (a stopping server)', () => {
      const writes: string[] = [];
      const sink = batchedJsonLineSink((text) => writes.push(text));
      const big = { ...base, model: 'm'.repeat(1000) };
      for (let i = 0; i < 70; i++) sink(big);
      expect(writes).toHaveLength(1);
      expect(writes[0]?.length).toBeGreaterThan(64 * 1024);
      sink(base);
      sink.flush();
      expect(writes.join('')).toBe(`${Array(70).fill(lineOf(big)).join('')}${lineOf(base)}`);
      // Nothing pending: an empty flush writes nothing.
      sink.flush();
      expect(writes).toHaveLength(2);
    });
  });
});
