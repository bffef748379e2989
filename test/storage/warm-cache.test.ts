import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SAMPLES_DIR } from '../../scripts/lib/samples';
import type { App } from '../../shared/app';
import { promote } from '../../shared/repository/deployment';
import { deploymentKey, ModelRepository } from '../../shared/repository/repository';
import { ArtifactDiskCache } from '../../shared/serving/artifact-cache';
import { ModelCache } from '../../shared/serving/model-cache';
import { withPreload } from '../../shared/serving/preload';
import { FsModelStore, type ModelStore, openStore } from '../../shared/store';
import { createLogger, silentLogger } from '../../shared/telemetry/log';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { startS3rver } from '../support/emulators';
import { buildTestApp, get, json, postJson, removeTempDirs, tempDir } from '../support/fixtures';
import { closeFakeGcs, irisPackage, irisRequest, repositoryLocation, type StoreKind } from './stores';

afterAll(async () => {
  await closeFakeGcs();
  removeTempDirs();
});

interface Counted {
  store: ModelStore;
  /** GETs of model.onnx that reached the store. */
  artifactGets: () => number;
  /** GETs of deployment configs: the ETag they carried (undefined = unconditional) and the answer. */
  deploymentGets: { ifNoneMatch: string | undefined; status: string }[];
  /** Listings that reached the store, by prefix. */
  lists: string[];
}

/** Counts what reaches the real store underneath; it changes nothing. */
function counted(store: ModelStore): Counted {
  let artifacts = 0;
  const deploymentGets: Counted['deploymentGets'] = [];
  const lists: string[] = [];
  return {
    artifactGets: () => artifacts,
    deploymentGets,
    lists,
    store: {
      url: store.url,
      list: (prefix) => {
        lists.push(prefix);
        return store.list(prefix);
      },
      put: (key, body, options) => store.put(key, body, options),
      get: async (key, options) => {
        if (key.endsWith('/model.onnx')) artifacts++;
        const result = await store.get(key, options);
        if (key.includes('/deployments/'))
          deploymentGets.push({ ifNoneMatch: options?.ifNoneMatch, status: result.status });
        return result;
      },
    },
  };
}

interface Harness {
  app: App;
  repository: ModelRepository;
  counts: Counted;
  events: RequestMetricEvent[];
  clock: { now: number };
  logs: Record<string, unknown>[];
}

async function deployedIris(
  kind: StoreKind,
  versions = 1,
): Promise<{ url: string; settings: Parameters<typeof openStore>[1] }> {
  const location = await repositoryLocation(kind);
  const repository = new ModelRepository(openStore(location.url, location.settings));
  const pkg = await irisPackage();
  for (let i = 0; i < versions; i++) await repository.publish(pkg);
  await repository.updateDeployment('iris', 'prod', (current) =>
    promote(current, { model: 'iris', stage: 'prod', version: 1 }, new Date(), 'test'),
  );
  return location;
}

function harness(
  location: { url: string; settings: Parameters<typeof openStore>[1] },
  overrides: { ttlMs?: number; cacheDir?: string } = {},
): Harness {
  const counts = counted(openStore(location.url, location.settings));
  const logs: Record<string, unknown>[] = [];
  const clock = { now: Date.parse('2026-06-01T00:00:00Z') };
  const { app, events } = buildTestApp(counts.store, {
    env: { MODELFLEET_STAGE: 'prod' },
    config: {
      // These tests measure caching; auth and rate limits (on by default on prod) have their own tests.
      authRequired: false,
      rateLimitPerKey: { ratePerSecond: 0, burst: 1 },
      rateLimitPerClient: { ratePerSecond: 0, burst: 1 },
      store: location.settings ?? {},
      deploymentTtlMs: overrides.ttlMs ?? 30_000,
      artifactCacheDir: overrides.cacheDir ?? tempDir('modelfleet-cache-'),
    },
    log: createLogger('warn', (line) => logs.push(JSON.parse(line))),
    now: () => clock.now,
  });
  return {
    app,
    repository: new ModelRepository(openStore(location.url, location.settings)),
    counts,
    events,
    clock,
    logs,
  };
}

const infer = (app: App, suffix = '') => app.handle(postJson(`/v2/models/iris${suffix}/infer`, irisRequest));

describe('warm cache on Azurite', () => {
  it('preloads the stage (download, sha256, session, sample run) and then serves with 0 artifact downloads', async () => {
    const h = harness(await deployedIris('azure'));
    const report = await h.app.preload();
    expect(report).toMatchObject({ loaded: ['iris@1'], warmedUp: ['iris@1'], failed: [] });
    // Where the cold start went, per version, as the preload's log line reports it.
    const phases = report.phases['iris@1'];
    expect(Object.keys(phases ?? {})).toEqual(['fetchMs', 'verifyMs', 'sessionMs', 'warmUpMs']);
    expect(phases?.fetchMs).toBeGreaterThan(0);
    expect(phases?.sessionMs).toBeGreaterThan(0);
    expect(phases?.warmUpMs).toBeGreaterThan(0);
    expect(h.counts.artifactGets()).toBe(1);
    const responses = await Promise.all(Array.from({ length: 100 }, () => infer(h.app)));
    expect(responses.map((r) => r.status)).toEqual(Array(100).fill(200));
    expect(h.counts.artifactGets()).toBe(1);
    expect(h.events.every((event) => event.cache === 'hit')).toBe(true);
  });

  it('downloads once for 50 concurrent first requests', async () => {
    const h = harness(await deployedIris('azure'));
    const responses = await Promise.all(Array.from({ length: 50 }, () => infer(h.app)));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(h.counts.artifactGets()).toBe(1);
    expect(h.events.filter((event) => event.cache === 'miss')).toHaveLength(1);
  });

  it('revalidates the deployment at most once per TTL, with a conditional read, and switches after the TTL', async () => {
    const h = harness(await deployedIris('azure', 2), { ttlMs: 30_000 });
    await infer(h.app);
    expect(h.counts.deploymentGets).toEqual([{ ifNoneMatch: undefined, status: 'ok' }]);
    await Promise.all(Array.from({ length: 30 }, () => infer(h.app)));
    h.clock.now += 29_000;
    await Promise.all(Array.from({ length: 30 }, () => infer(h.app)));
    expect(h.counts.deploymentGets).toHaveLength(1);

    h.clock.now += 2_000;
    await Promise.all(Array.from({ length: 30 }, () => infer(h.app)));
    await h.app.settled(); // the revalidation runs in the background (stale-while-revalidate)
    expect(h.counts.deploymentGets).toHaveLength(2);
    expect(h.counts.deploymentGets[1]).toMatchObject({ status: 'not-modified' });
    expect(h.counts.deploymentGets[1]?.ifNoneMatch).toEqual(expect.any(String));

    await h.repository.updateDeployment('iris', 'prod', (current) =>
      promote(current, { model: 'iris', stage: 'prod', version: 2 }, new Date(), 'test'),
    );
    expect(json(await infer(h.app))['model_version']).toBe('1');
    h.clock.now += 31_000;
    // Requests that find the config stale are answered with it at once; the change lands when the
    // one background revalidation (and the new version's load) is done.
    const during = await Promise.all(Array.from({ length: 10 }, () => infer(h.app)));
    expect(during.map((r) => r.status)).toEqual(Array(10).fill(200));
    await h.app.settled();
    const after = await Promise.all(Array.from({ length: 10 }, () => infer(h.app)));
    expect(after.map((r) => json(r)['model_version'])).toEqual(Array(10).fill('2'));
    expect(h.counts.deploymentGets).toHaveLength(3);
  });

  it('lists the published versions for model metadata at most once per deployment TTL', async () => {
    const h = harness(await deployedIris('azure', 2), { ttlMs: 30_000 });
    const metadata = async () => json(await h.app.handle(get('/v2/models/iris')))['versions'];
    expect(await metadata()).toEqual(['1', '2']);
    const listed = h.counts.lists.length;
    for (let i = 0; i < 20; i++) expect(await metadata()).toEqual(['1', '2']);
    expect(h.counts.lists).toHaveLength(listed);
    await h.repository.publish(await irisPackage());
    h.clock.now += 31_000;
    expect(await metadata()).toEqual(['1', '2', '3']);
    expect(h.counts.lists.length).toBeGreaterThan(listed);
  });

  it('refuses a corrupted artifact: the new deployment is not switched to and the previous version keeps serving', async () => {
    const location = await deployedIris('azure', 2);
    const h = harness(location, { ttlMs: 1_000 });
    expect(json(await infer(h.app))['model_version']).toBe('1');
    await h.repository.updateDeployment('iris', 'prod', (current) =>
      promote(current, { model: 'iris', stage: 'prod', version: 2 }, new Date(), 'test'),
    );
    const artifact = Buffer.from((await irisPackage()).artifact);
    artifact.writeUInt8((artifact.at(-1) ?? 0) ^ 0xff, artifact.length - 1);
    await h.repository.store.put('iris/2/model.onnx', artifact);

    h.clock.now += 2_000;
    const responses = await Promise.all(Array.from({ length: 20 }, () => infer(h.app)));
    await h.app.settled();
    responses.push(...(await Promise.all(Array.from({ length: 20 }, () => infer(h.app)))));
    expect(responses.map((r) => [r.status, json(r)['model_version']])).toEqual(Array(40).fill([200, '1']));
    expect(
      h.logs.some(
        (log) => log['message'] === 'refusing a new deployment config; the last good one keeps serving',
      ),
    ).toBe(true);
    const pinned = await infer(h.app, '/versions/2');
    expect(pinned.status).toBe(503);
    expect(json(pinned)['error']).toBe(
      'model "iris" version 2 failed its integrity check and will not be served',
    );
  });

  it('ignores a deployment config that fails validation at run time and keeps serving the last good one', async () => {
    const location = await deployedIris('azure');
    const h = harness(location, { ttlMs: 1_000 });
    expect((await infer(h.app)).status).toBe(200);
    const key = deploymentKey('iris', 'prod');
    const current = await h.repository.store.get(key);
    if (current.status !== 'ok') throw new Error('no deployment');
    const broken = JSON.parse(current.body.toString());
    broken.variants[0].weight = 90;
    await h.repository.store.put(key, Buffer.from(JSON.stringify(broken)), { ifMatch: current.etag });
    h.clock.now += 2_000;
    const responses = await Promise.all(Array.from({ length: 10 }, () => infer(h.app)));
    await h.app.settled();
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(h.logs.find((log) => log['message'] === 'serving the last good deployment config')).toMatchObject({
      error: expect.stringContaining('weights must sum to 100, got 90'),
    });
  });

  it('logs why a deployed version failed to preload, naming the model, the document and the field', async () => {
    const h = harness(await deployedIris('azure'));
    const key = 'iris/1/manifest.json';
    const current = await h.repository.store.get(key);
    if (current.status !== 'ok') throw new Error('no manifest');
    await h.repository.store.put(
      key,
      Buffer.from(JSON.stringify({ ...JSON.parse(current.body.toString()), createdAt: 42 })),
    );
    const report = await h.app.preload();
    const refusal = 'model "iris" version 1 has an invalid manifest and will not be served';
    expect(report.failed).toEqual([{ target: 'iris', error: refusal }]);
    // The client's message stays short; the log line also gives the schema's verdict.
    expect(
      h.logs.find((log) => log['message'] === 'preload: a deployed version could not be loaded'),
    ).toMatchObject({
      level: 'error',
      model: 'iris',
      error: refusal,
      cause: expect.stringMatching(/iris\/1\/manifest\.json.*createdAt/),
    });
  });
  it('a new instance with the same disk cache loads from disk without downloading; a tampered disk copy is not used', async () => {
    const location = await deployedIris('azure');
    const cacheDir = tempDir('modelfleet-cache-');
    const first = harness(location, { cacheDir });
    await first.app.preload();
    expect(first.counts.artifactGets()).toBe(1);
    // The disk copy is written in the background; settled() waits for it.
    await first.app.settled();

    const second = harness(location, { cacheDir });
    expect((await infer(second.app)).status).toBe(200);
    expect(second.counts.artifactGets()).toBe(0);

    const [cached] = readdirSync(cacheDir, { recursive: true, encoding: 'utf8' }).filter((file) =>
      file.endsWith('model.onnx'),
    );
    const file = path.join(cacheDir, cached ?? 'missing');
    const bytes = readFileSync(file);
    bytes.writeUInt8((bytes.at(0) ?? 0) ^ 0xff, 0);
    writeFileSync(file, bytes);
    const third = harness(location, { cacheDir });
    expect((await infer(third.app)).status).toBe(200);
    expect(third.counts.artifactGets()).toBe(1);
  });
});

describe('withPreload (entry points built at cold start)', () => {
  it('starts the preload at once and makes the first requests wait for it', async () => {
    const h = harness(await deployedIris('azure'));
    const warm = withPreload(h.app);
    // The preload already runs: the download happens without any request.
    const responses = await Promise.all(Array.from({ length: 10 }, () => infer(warm)));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(h.counts.artifactGets()).toBe(1);
    expect(h.events.every((event) => event.cache === 'hit')).toBe(true);
  });
});

describe('store outage (s3rver stopped mid-run)', () => {
  it('keeps serving cached versions (stale-if-error) and answers uncached ones with 503 and Retry-After', async () => {
    const s3 = await startS3rver('outage');
    let stopped = false;
    try {
      const location = {
        url: 's3://outage/repo',
        settings: { s3Endpoint: s3.endpoint, s3ForcePathStyle: true, s3Region: 'us-east-1' },
      };
      const repository = new ModelRepository(openStore(location.url, location.settings));
      const pkg = await irisPackage();
      await repository.publish(pkg);
      await repository.publish(pkg);
      const housePrice = { ...pkg, manifest: { ...pkg.manifest, name: 'other' } };
      await repository.publish(housePrice);
      for (const model of ['iris', 'other']) {
        await repository.updateDeployment(model, 'prod', (current) =>
          promote(current, { model, stage: 'prod', version: 1 }, new Date(), 'test'),
        );
      }
      // TTL 0: every request revalidates, so every request meets the outage.
      const h = harness(location, { ttlMs: 0 });
      expect((await infer(h.app)).status).toBe(200);
      expect(json(await h.app.handle(get('/v2/models/iris')))['versions']).toEqual(['1', '2']);

      await s3.stop();
      stopped = true;
      const responses = await Promise.all(Array.from({ length: 50 }, () => infer(h.app)));
      expect(responses.filter((r) => r.status === 200)).toHaveLength(50);

      // Metadata of the warm model: the last listing answers (the store cannot).
      const metadata = await h.app.handle(get('/v2/models/iris'));
      expect({ status: metadata.status, versions: json(metadata)['versions'] }).toEqual({
        status: 200,
        versions: ['1', '2'],
      });

      const uncachedModel = await h.app.handle(postJson('/v2/models/other/infer', irisRequest));
      expect(uncachedModel.status).toBe(503);
      expect(uncachedModel.headers['retry-after']).toBe('5');
      const uncachedVersion = await infer(h.app, '/versions/2');
      expect(uncachedVersion.status).toBe(503);
      expect(uncachedVersion.headers['retry-after']).toBe('5');
      expect(json(uncachedVersion)['error']).toBe(
        'model "iris" version 2 could not be read from the repository',
      );
      // Warm and serving: still ready (a probe must not take every instance out in an outage),
      // and the store's state is in the body.
      const ready = await h.app.handle(get('/v2/health/ready'));
      expect(ready.status).toBe(200);
      expect(json(ready)).toMatchObject({
        ready: true,
        versions: { loaded: 1, expected: 1 },
        store: 'unreachable',
      });
    } finally {
      if (!stopped) await s3.stop();
    }
  });
});

describe('Triton-style repository (no manifest.json)', () => {
  it('serves <model>/<n>/model.onnx with the signature read from the model, latest version by default', async () => {
    const root = tempDir('modelfleet-triton-');
    for (const version of ['1', '3']) {
      mkdirSync(path.join(root, 'tri', version), { recursive: true });
      copyFileSync(
        path.join(SAMPLES_DIR, 'iris', 'model.onnx'),
        path.join(root, 'tri', version, 'model.onnx'),
      );
    }
    const h = harness({ url: `file://${root}`, settings: {} });
    const metadata = await h.app.handle(get('/v2/models/tri'));
    expect(metadata.status).toBe(200);
    expect(json(metadata)).toMatchObject({
      name: 'tri',
      versions: ['1', '3'],
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
      parameters: { version: '3', variant: 'latest' },
    });
    const response = await h.app.handle(postJson('/v2/models/tri/infer', irisRequest));
    expect(response.status).toBe(200);
    expect(json(response)['model_version']).toBe('3');
    expect((await h.app.handle(postJson('/v2/models/tri/versions/1/infer', irisRequest))).status).toBe(200);
    expect(h.logs.some((log) => String(log['message']).includes('its sha256 cannot be checked'))).toBe(true);
    expect((await h.app.preload()).loaded).toEqual(['tri@3']);
  });
});

describe('disk copy off the critical path', () => {
  it('serves a version before its disk copy is written, and flushed() waits for the copy', async () => {
    const location = await deployedIris('azure');
    const repository = new ModelRepository(openStore(location.url, location.settings));
    let finishWrite = () => {};
    const writes: string[] = [];
    // A disk cache whose write stays pending until the test lets it finish.
    const slowDisk = new ArtifactDiskCache(tempDir('modelfleet-cache-'), 1 << 30, silentLogger);
    slowDisk.write = (_store, model, version) => {
      writes.push(`${model}@${version}`);
      return new Promise<void>((resolve) => {
        finishWrite = resolve;
      });
    };
    const cache = new ModelCache(repository, 2, { disk: slowDisk });
    const { model, hit } = await cache.get('iris', 1);
    expect({ hit, name: model.manifest.name }).toEqual({ hit: false, name: 'iris' });
    expect(writes).toEqual(['iris@1']);
    let flushed = false;
    const flushing = cache.flushed().then(() => {
      flushed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(flushed).toBe(false);
    finishWrite();
    await flushing;
    expect(flushed).toBe(true);
  });
});

describe('artifact disk cache bound', () => {
  it('keeps the total under maxBytes by removing the least recently used versions', async () => {
    const dir = tempDir('modelfleet-lru-');
    const artifact = Buffer.alloc(1000, 1);
    const cache = new ArtifactDiskCache(dir, 2500, silentLogger);
    const store = 'file:///repo';
    await cache.write(store, 'm', 1, { manifest: undefined, artifact });
    await cache.write(store, 'm', 2, { manifest: undefined, artifact });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await cache.read(store, 'm', 1)).toBeDefined();
    await cache.write(store, 'm', 3, { manifest: undefined, artifact });
    expect(await cache.size()).toBeLessThanOrEqual(2500);
    expect(await cache.read(store, 'm', 2)).toBeUndefined();
    expect(await cache.read(store, 'm', 1)).toBeDefined();
    expect(await cache.read(store, 'm', 3)).toBeDefined();
    // A fresh instance counts what is already on disk.
    const again = new ArtifactDiskCache(dir, 2500, silentLogger);
    expect(await again.size()).toBe(2000);
    await again.write(store, 'm', 4, { manifest: undefined, artifact });
    expect(await again.size()).toBe(2000);
  });

  it('does nothing when disabled (0 bytes)', async () => {
    const dir = tempDir('modelfleet-lru-');
    const cache = new ArtifactDiskCache(dir, 0, silentLogger);
    await cache.write('x', 'm', 1, { manifest: undefined, artifact: Buffer.alloc(10) });
    expect(await cache.read('x', 'm', 1)).toBeUndefined();
    expect(new FsModelStore(dir).root).toBe(dir);
  });
});
