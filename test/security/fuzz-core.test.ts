import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { removeTempDirs } from '../support/fixtures';
import { seededRandom } from '../support/random';
import { FUZZ_LIMITS, type Hostile, hostileRequests, problemWith } from './hostile';
import { API_KEYS, KEYS, securedApp } from './support';

jest.setTimeout(120_000);
afterAll(removeTempDirs);

const COUNT = 10_000;
const MB = 1024 * 1024;
/** After a full GC the heap must come back within this of where it started. */
const HEAP_TOLERANCE = 16 * MB;
const FUZZ_ENV = {
  API_KEYS,
  MAX_BODY_BYTES: String(FUZZ_LIMITS.maxBodyBytes),
  // The fuzz is about what each request does; rate limits would answer most of them with 429.
  RATE_LIMIT_KEY_RPS: '0',
  RATE_LIMIT_CLIENT_RPS: '0',
};
const VALID = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
});

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function tally(
  failures: string[],
  counts: Map<string, number>,
  hostile: Hostile,
  status: number,
  body: string,
) {
  counts.set(hostile.kind, (counts.get(hostile.kind) ?? 0) + 1);
  const problem = problemWith(status, body);
  if (problem !== undefined && failures.length < 20) {
    failures.push(`${hostile.kind} ${hostile.method} ${hostile.path}: ${problem} ${body.slice(0, 200)}`);
  }
}

describe('fuzz: hostile and malformed requests', () => {
  it(`answers ${COUNT} of them in the core (app.handle) with a 4xx and a message, and keeps its heap`, async () => {
    const { app } = await securedApp(FUZZ_ENV);
    const gc = collectGarbage();
    const valid = { method: 'POST', path: '/v2/models/iris/infer', query: {}, body: VALID };
    const warm = await app.handle({ ...valid, headers: { 'x-api-key': KEYS.predict } });
    expect(warm.status).toBe(200);
    gc();
    const baseline = process.memoryUsage().heapUsed;

    const failures: string[] = [];
    const counts = new Map<string, number>();
    const started = performance.now();
    for (const hostile of hostileRequests(seededRandom(7), COUNT)) {
      const response = await app.handle({
        method: hostile.method,
        path: hostile.path,
        query: {},
        headers: hostile.headers,
        body: hostile.body,
        sourceIp: '127.0.0.1',
      });
      const body = typeof response.body === 'string' ? response.body : Buffer.from(response.body).toString();
      tally(failures, counts, hostile, response.status, body);
    }
    const elapsed = performance.now() - started;
    gc();
    const after = process.memoryUsage().heapUsed;
    console.log(
      `core fuzz: ${COUNT} requests in ${elapsed.toFixed(0)} ms; heap ${(baseline / MB).toFixed(1)} → ${(after / MB).toFixed(1)} MB; ${JSON.stringify(Object.fromEntries(counts))}`,
    );
    expect(failures).toEqual([]);
    expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(COUNT);
    expect(counts.size).toBeGreaterThanOrEqual(10);
    expect(after - baseline).toBeLessThan(HEAP_TOLERANCE);
    // Still serving.
    expect((await app.handle({ ...valid, headers: { 'x-api-key': KEYS.predict } })).status).toBe(200);
  });
});
