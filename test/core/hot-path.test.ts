/**
 * Shortcuts the per-request path takes (quick JSON vetting, synchronous cache and guard answers)
 * must decide exactly what the general code decides.
 */
import { createHook } from 'node:async_hooks';
import { buildModel } from '../../scripts/lib/onnx-builder';
import { parseConfig } from '../../shared/config';
import { ModelRepository } from '../../shared/repository/repository';
import { checkRows, inspectJson, vetJson } from '../../shared/security/body';
import { createGuard } from '../../shared/security/guard';
import { TokenBucketLimiter } from '../../shared/security/rate-limit';
import { ModelCache } from '../../shared/serving/model-cache';
import { createSession, startRuntime } from '../../shared/serving/native-session';
import { ort, RUNTIME_PROBE_MODEL } from '../../shared/serving/onnx';
import type { ModelStore } from '../../shared/store';
import { API_KEYS, KEYS, securedApp } from '../security/support';
import {
  postJson,
  removeTempDirs,
  sampleApp,
  sampleRepository,
  sampleRequestText,
} from '../support/fixtures';
import { seededRandom } from '../support/random';

afterAll(removeTempDirs);

const outcome = (run: () => void): string => {
  try {
    run();
    return 'ok';
  } catch (err) {
    return `${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
};

/** JSON text with, now and then, a prototype key, an out-of-range number or deep nesting. */
function randomJsonText(random: () => number, depth = 0): string {
  const r = random();
  if (depth > 6 || r < 0.3) {
    const leaf = random();
    if (leaf < 0.03) return '1e400';
    if (leaf < 0.06) return '-1e999';
    if (leaf < 0.5) return String((random() - 0.5) * 1000);
    if (leaf < 0.7) return JSON.stringify(`s${Math.floor(random() * 10)}`);
    return leaf < 0.85 ? 'null' : 'true';
  }
  const n = Math.floor(random() * 4);
  if (r < 0.65) return `[${Array.from({ length: n }, () => randomJsonText(random, depth + 1)).join(',')}]`;
  const keys = ['inputs', 'shape', 'data', 'name', '__proto__', 'constructor', 'prototype', 'x'];
  const fields = Array.from({ length: n }, (_, i) => {
    const pick = random();
    const key = pick < 0.06 ? keys[4 + Math.floor(random() * 3)] : `${keys[Math.floor(random() * 4)]}${i}`;
    return `${JSON.stringify(key)}:${randomJsonText(random, depth + 1)}`;
  });
  return `{${fields.join(',')}}`;
}

describe('vetJson quick walk', () => {
  it('accepts and refuses exactly what the full walk does, with the same message', () => {
    const random = seededRandom(8);
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const value: unknown = JSON.parse(randomJsonText(random));
      const maxJsonDepth = 2 + Math.floor(random() * 6);
      const limits = { maxJsonDepth, maxBatchRows: 1000, maxBodyBytes: 1 << 20 };
      const expected = outcome(() => {
        inspectJson(value, maxJsonDepth);
        checkRows(value, limits.maxBatchRows);
      });
      expect(outcome(() => vetJson(value, limits))).toBe(expected);
      if (expected !== 'ok') refused++;
    }
    // The generator must exercise both answers for the comparison to mean anything.
    expect(refused).toBeGreaterThan(300);
    expect(refused).toBeLessThan(2700);
  });

  it('hands nesting deeper than it recurses to the full walk, which accepts it within the limit', () => {
    const deep = (n: number, leaf: string) => JSON.parse(`${'['.repeat(n)}${leaf}${']'.repeat(n)}`);
    const limits = { maxJsonDepth: 10_000, maxBatchRows: 1000, maxBodyBytes: 1 << 20 };
    expect(() => vetJson(deep(5000, '1'), limits)).not.toThrow();
    expect(() => vetJson(deep(5000, '1e400'), limits)).toThrow('is a number too large for a double');
    expect(() => vetJson(deep(200, '{"__proto__":1}'), limits)).toThrow('key "__proto__"');
    expect(() => vetJson(deep(200, '1'), { ...limits, maxJsonDepth: 150 })).toThrow(
      'is nested more than 150 levels deep',
    );
  });
});

describe('ModelCache.peek', () => {
  it('answers only for loaded versions, and marks them most recently used', async () => {
    const repository = await sampleRepository();
    const cache = new ModelCache(repository, 2);
    expect(cache.peek('iris', 1)).toBeUndefined();
    const loading = cache.get('iris', 1);
    expect(cache.peek('iris', 1)).toBeUndefined(); // still loading: callers await get()
    const { model } = await loading;
    expect(cache.peek('iris', 1)).toBe(model);
    await cache.get('house-price', 1);
    expect(cache.keys()).toEqual(['iris@1', 'house-price@1']);
    cache.peek('iris', 1);
    expect(cache.keys()).toEqual(['house-price@1', 'iris@1']);
    expect(cache.peek('iris', 2)).toBeUndefined();
  });

  it('never answers with a version whose load failed', async () => {
    const repository = await sampleRepository();
    const store = repository.store;
    const failing: ModelStore = {
      url: store.url,
      list: (prefix) => store.list(prefix),
      put: (key, body, options) => store.put(key, body, options),
      get: async (key, options) => {
        if (key.endsWith('model.onnx')) throw new Error('store down');
        return store.get(key, options);
      },
    };
    const cache = new ModelCache(new ModelRepository(failing), 2);
    await expect(cache.get('iris', 1)).rejects.toThrow('could not be read');
    expect(cache.peek('iris', 1)).toBeUndefined();
  });
});

describe('guard without a JWT to verify', () => {
  const config = parseConfig({ MODELFLEET_STAGE: 'dev', API_KEYS, MODEL_REPOSITORY: '/tmp/unused' });
  const request = (key: string) => ({
    method: 'POST',
    path: '/v2/models/iris/infer',
    query: {},
    headers: { 'x-api-key': key },
  });

  it('answers API-key requests synchronously, with the same principal and errors', () => {
    const guard = createGuard(config);
    const principal = guard.check(request(KEYS.predict), 'infer', {});
    expect(principal).not.toBeInstanceOf(Promise);
    expect(principal).toMatchObject({ kind: 'api-key', id: 'client' });
    expect(() => guard.check(request('not-a-key'), 'infer', {})).toThrow('API key is not valid');
    expect(() => guard.check(request(KEYS.revoked), 'infer', {})).toThrow('has been revoked');
    expect(() => guard.check(request(KEYS.predict), 'infer', { version: '1' })).toThrow(
      'lacks the "admin" scope',
    );
  });
});

describe('TokenBucketLimiter recency', () => {
  const settings = { ratePerSecond: 1e-9, burst: 2 };
  const now = () => 0;

  it('keeps the callers seen last, whether or not the last caller repeats', () => {
    const limiter = new TokenBucketLimiter(settings, now, 2);
    limiter.take('a', 'a');
    limiter.take('b', 'b');
    limiter.take('a', 'a'); // a is now the most recent, with no tokens left
    limiter.take('c', 'c'); // drops b, the least recent
    expect(() => limiter.take('a', 'a')).toThrow('rate limit');
    expect(() => limiter.take('b', 'b')).not.toThrow(); // a fresh bucket: b was forgotten

    const repeat = new TokenBucketLimiter(settings, now, 2);
    repeat.take('a', 'a');
    repeat.take('a', 'a'); // the newest caller again: no tokens left
    repeat.take('b', 'b');
    repeat.take('c', 'c'); // drops a, the least recent
    expect(() => repeat.take('a', 'a')).not.toThrow();
    expect(repeat.size).toBe(2);
  });
});

describe('path segments', () => {
  it('are decoded only when they hold a "%", and bad escapes are a 400 naming the segment', async () => {
    const { app } = await sampleApp();
    const ready = (model: string) =>
      app.handle({ method: 'GET', path: `/v2/models/${model}/ready`, query: {}, headers: {} });
    expect((await ready('iris')).status).toBe(200);
    expect((await ready('ir%69s')).status).toBe(200); // %69 is "i"
    const bad = await ready('ir%E0%A4%A');
    expect(bad.status).toBe(400);
    expect(JSON.parse(String(bad.body)).error).toBe(
      'path segment "ir%E0%A4%A" is not valid percent-encoding',
    );
  });
});

describe('onnxruntime started ahead of the first session', () => {
  it('the probe model is the one-node Identity model the builder makes, and it runs', async () => {
    const rebuilt = buildModel({
      name: 'warm',
      inputs: [{ name: 'x', type: 'FLOAT', shape: [1] }],
      outputs: [{ name: 'y', type: 'FLOAT', shape: [1] }],
      initializers: [],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
    expect(Buffer.from(rebuilt).toString('base64')).toBe(RUNTIME_PROBE_MODEL);
    await expect(startRuntime()).resolves.toBeUndefined();
    expect(startRuntime()).toBe(startRuntime());
    const session = await createSession(Buffer.from(RUNTIME_PROBE_MODEL, 'base64'));
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([2.5]), [1]) }, ['y']);
    expect(Array.from(out['y']?.data as Float32Array)).toEqual([2.5]);
    await session.release();
  });
});

describe('promises per warm inference request', () => {
  /**
   * Promises `run` creates, with where each was made. On functions-framework every request runs in
   * a node:domain, which turns on async hooks: each promise then also runs the domain's hook, so
   * the warm path awaits only what must wait. 1 today: the pipeline's own promise; the inline
   * engine answers the direct session's run without one (24 at first; 10 while runs went through
   * onnxruntime's public `InferenceSession.run`, which made five of its own; 6 while the data
   * plane awaited the run's promise).
   */
  async function promisesMadeBy<T>(
    run: () => Promise<T>,
  ): Promise<{ result: T; count: number; where: string[] }> {
    const where: string[] = [];
    const hook = createHook({
      init(_id, type) {
        if (type !== 'PROMISE') return;
        const frame = (new Error().stack ?? '')
          .split('\n')
          .slice(1)
          .find((line) => !line.includes('node:internal') && !line.includes('AsyncHook.init'));
        where.push(frame?.trim() ?? '?');
      },
    });
    let result: T;
    hook.enable();
    try {
      result = await run();
    } finally {
      hook.disable();
    }
    // This function's own promise and its await of `run()` make two.
    return { result, count: where.length - 2, where };
  }

  it('stays at what the warm path needs, with authentication, rate limits and metrics on', async () => {
    const { app, events } = await securedApp({ API_KEYS });
    const request = postJson('/v2/models/iris/infer', sampleRequestText('iris'), {
      'x-api-key': KEYS.predict,
    });
    for (let i = 0; i < 5; i++) expect((await app.handle(request)).status).toBe(200);
    await app.settled();
    const { result, count, where } = await promisesMadeBy(() => app.handle(request));
    expect(result.status).toBe(200);
    expect(events.at(-1)).toMatchObject({ route: 'infer', status: 200, cache: 'hit', model: 'iris' });
    // One above today's count: with async hooks on, an async function that awaits costs two
    // promises (its own and the await's), so a step of the chain made async again fails this.
    if (count > 2) throw new Error(`${count} promises per warm request (at most 2):\n${where.join('\n')}`);
    expect(count).toBeGreaterThan(0);
  });
});
