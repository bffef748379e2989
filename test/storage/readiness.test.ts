import { type ModelStore, StoreUnavailableError } from '../../shared/store';
import {
  buildTestApp,
  get,
  json,
  postJson,
  removeTempDirs,
  sampleRepository,
  tempDir,
} from '../support/fixtures';
import { irisRequest } from './stores';

afterAll(removeTempDirs);

/** The sample repository behind a switch that makes every call fail, counting the calls. */
async function switchableStore() {
  const inner = (await sampleRepository()).store;
  const state = { down: false, calls: 0 };
  const guard = () => {
    state.calls++;
    if (state.down) throw new StoreUnavailableError(inner.url, new Error('connection refused'));
  };
  const store: ModelStore = {
    url: inner.url,
    get: async (key, options) => {
      guard();
      return inner.get(key, options);
    },
    put: async (key, body, options) => {
      guard();
      return inner.put(key, body, options);
    },
    list: async (prefix) => {
      guard();
      return inner.list(prefix);
    },
  };
  return { store, state };
}

function app(store: ModelStore, clock: { now: number }) {
  return buildTestApp(store, {
    env: { MODELFLEET_STAGE: 'dev' },
    config: {
      authRequired: false,
      rateLimitPerKey: { ratePerSecond: 0, burst: 1 },
      rateLimitPerClient: { ratePerSecond: 0, burst: 1 },
      deploymentTtlMs: 1000,
      artifactCacheDir: tempDir('modelfleet-cache-'),
    },
    now: () => clock.now,
  }).app;
}

describe('readiness', () => {
  it('makes no store call per probe, and stays ready through a store outage while warm', async () => {
    const { store, state } = await switchableStore();
    const clock = { now: Date.parse('2026-06-01T00:00:00Z') };
    const served = app(store, clock);
    const preload = served.preload();
    const during = await served.handle(get('/v2/health/ready'));
    expect(during.status).toBe(503);
    expect(json(during)['ready']).toBe(false);
    await preload;

    const before = state.calls;
    for (let i = 0; i < 20; i++) {
      const probe = await served.handle(get('/v2/health/ready'));
      expect(probe.status).toBe(200);
    }
    expect(state.calls - before).toBe(0);
    expect(json(await served.handle(get('/v2/health/ready')))).toEqual({
      ready: true,
      versions: { loaded: 2, expected: 2 },
      store: 'reachable',
      storeAnsweredSecondsAgo: 0,
    });

    // The store goes down; a request past the TTL revalidates in the background and fails.
    state.down = true;
    clock.now += 5000;
    expect((await served.handle(postJson('/v2/models/iris/infer', irisRequest))).status).toBe(200);
    await served.settled();
    const outage = await served.handle(get('/v2/health/ready'));
    expect(outage.status).toBe(200);
    expect(json(outage)).toEqual({
      ready: true,
      versions: { loaded: 2, expected: 2 },
      store: 'unreachable',
      storeAnsweredSecondsAgo: 5,
    });
  });

  it('is not ready when the preload could not reach the store at all', async () => {
    const { store, state } = await switchableStore();
    state.down = true;
    const served = app(store, { now: Date.now() });
    await served.preload();
    const probe = await served.handle(get('/v2/health/ready'));
    expect(probe.status).toBe(503);
    expect(json(probe)).toMatchObject({ ready: false, versions: { loaded: 0, expected: 0 } });
  });
});
