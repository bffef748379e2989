import { TokenBucketLimiter } from '../../shared/security/rate-limit';
import { json, postJson, removeTempDirs } from '../support/fixtures';
import { API_KEYS, KEYS, securedApp } from './support';

afterAll(removeTempDirs);

const iris = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('token bucket', () => {
  it('allows the burst, then 429s with a Retry-After that is exactly when a token is back', () => {
    const clock = fakeClock();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 2, burst: 3 }, clock.now);
    for (let i = 0; i < 3; i++) limiter.take('a', 'key "a"');
    let error: unknown;
    try {
      limiter.take('a', 'key "a"');
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ status: 429, headers: { 'retry-after': '1' } });
    expect((error as Error).message).toBe(
      'rate limit of 2 requests per second (burst 3) exceeded for key "a"; retry in 1 s',
    );
    clock.advance(499);
    expect(() => limiter.take('a', 'a')).toThrow('exceeded');
    clock.advance(1);
    expect(() => limiter.take('a', 'a')).not.toThrow();
    expect(() => limiter.take('a', 'a')).toThrow('exceeded');
    // Other identities have their own buckets.
    expect(() => limiter.take('b', 'b')).not.toThrow();
  });

  it('refills at the rate up to the burst, never beyond', () => {
    const clock = fakeClock();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 10, burst: 5 }, clock.now);
    for (let i = 0; i < 5; i++) limiter.take('a', 'a');
    clock.advance(60_000);
    for (let i = 0; i < 5; i++) limiter.take('a', 'a');
    expect(() => limiter.take('a', 'a')).toThrow('exceeded');
  });

  it('rounds Retry-After up for slow rates and tracks a bounded number of identities', () => {
    const clock = fakeClock();
    const limiter = new TokenBucketLimiter({ ratePerSecond: 0.1, burst: 1 }, clock.now, 100);
    limiter.take('a', 'a');
    expect(() => limiter.take('a', 'a')).toThrow(
      expect.objectContaining({ headers: { 'retry-after': '10' } }),
    );
    for (let i = 0; i < 1000; i++) limiter.take(`ip-${i}`, 'x');
    expect(limiter.size).toBe(100);
  });

  it('does nothing when the rate is 0 (off)', () => {
    const limiter = new TokenBucketLimiter({ ratePerSecond: 0, burst: 1 });
    for (let i = 0; i < 100; i++) limiter.take('a', 'a');
    expect(limiter.size).toBe(0);
  });
});

describe('rate limits in the core', () => {
  it('limits per key and per client address, from config, with 429 and Retry-After', async () => {
    const clock = fakeClock();
    const { app, events } = await securedApp(
      {
        API_KEYS,
        RATE_LIMIT_KEY_RPS: '1',
        RATE_LIMIT_KEY_BURST: '2',
        RATE_LIMIT_CLIENT_RPS: '5',
        RATE_LIMIT_CLIENT_BURST: '4',
      },
      { now: clock.now },
    );
    const call = (key: string, ip: string) =>
      app.handle({ ...postJson('/v2/models/iris/infer', iris, { 'x-api-key': key }), sourceIp: ip });
    expect((await call(KEYS.predict, '10.0.0.1')).status).toBe(200);
    expect((await call(KEYS.predict, '10.0.0.2')).status).toBe(200);
    const limited = await call(KEYS.predict, '10.0.0.3');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(json(limited)['error']).toContain('exceeded for "client"');
    expect(events.at(-1)).toMatchObject({ status: 429, errorClass: 'rate_limited' });
    // Another key is not affected; after a second the first key has a token again.
    expect((await call(KEYS.admin, '10.0.0.3')).status).toBe(200);
    clock.advance(1000);
    expect((await call(KEYS.predict, '10.0.0.3')).status).toBe(200);

    // The client limit applies before authentication, so guessing keys is throttled too.
    const guesses = [];
    for (let i = 0; i < 6; i++) guesses.push((await call(`guess-${i}`, '10.9.9.9')).status);
    expect(guesses).toEqual([401, 401, 401, 401, 429, 429]);
  });
});
