import { loadInTurns } from '../../shared/boot';
import { PrefetchingStore, versionsNamedIn } from '../../shared/repository/prefetch';
import { withPreload } from '../../shared/serving/preload';
import type { GetOptions, ModelStore } from '../../shared/store';
import { buildTestApp, postJson, removeTempDirs, sampleRepository } from '../support/fixtures';

afterAll(removeTempDirs);

/** Records every read that reaches the store underneath; `failFirst` keys fail once. */
function recording(store: ModelStore, failFirst: string[] = []) {
  const reads: string[] = [];
  const failing = new Set(failFirst);
  const wrapped: ModelStore = {
    url: store.url,
    put: (key, body, options) => store.put(key, body, options),
    list: async (prefix) => {
      reads.push(`list ${prefix}`);
      return store.list(prefix);
    },
    get: async (key, options?: GetOptions) => {
      reads.push(options?.ifNoneMatch === undefined ? `get ${key}` : `get ${key} if-none-match`);
      if (failing.delete(key)) throw new Error(`${key}: connection reset`);
      return store.get(key, options);
    },
  };
  return { reads, store: wrapped };
}

const irisRequest = {
  inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }],
};

describe('cold-start prefetch', () => {
  it("reads the stage's listing, deployments, manifests and artifacts at once; the preload then reads nothing again", async () => {
    const repository = await sampleRepository();
    const underneath = recording(repository.store);
    const store = new PrefetchingStore(underneath.store, 'dev');
    await store.done;
    const prefetched = [...underneath.reads].sort();
    expect(prefetched).toEqual(
      [
        'list ',
        'get house-price/deployments/dev.json',
        'get house-price/1/manifest.json',
        'get house-price/1/model.onnx',
        'get iris/deployments/dev.json',
        'get iris/1/manifest.json',
        'get iris/1/model.onnx',
      ].sort(),
    );

    let released = false;
    // Authentication has its own tests; this one counts reads.
    const built = buildTestApp(store, { env: { MODELFLEET_STAGE: 'dev' }, config: { authRequired: false } });
    const app = withPreload(built.app, () => {
      released = true;
      store.release();
    });
    const response = await app.handle(postJson('/v2/models/iris/infer', irisRequest));
    expect(response.status).toBe(200);
    expect(released).toBe(true);
    expect(store.waiting).toEqual([]);
    // Every prefetched answer was used, once: nothing reached the store after the prefetch.
    expect(underneath.reads.slice(prefetched.length)).toEqual([]);
  });

  it('reads again what failed to prefetch, and never answers a conditional read from the prefetch', async () => {
    const repository = await sampleRepository();
    const underneath = recording(repository.store, ['iris/1/model.onnx']);
    const store = new PrefetchingStore(underneath.store, 'dev');
    await store.done;
    const artifact = await store.get('iris/1/model.onnx');
    expect(artifact.status).toBe('ok');
    expect(underneath.reads.filter((read) => read === 'get iris/1/model.onnx')).toHaveLength(2);

    const deployment = await repository.store.get('iris/deployments/dev.json');
    const etag = deployment.status === 'ok' ? deployment.etag : '';
    expect(await store.get('iris/deployments/dev.json', { ifNoneMatch: etag })).toEqual({
      status: 'not-modified',
      etag,
    });
    expect(underneath.reads).toContain('get iris/deployments/dev.json if-none-match');
    // The unconditional prefetched read is still there for whoever asks first.
    expect(store.waiting).toContain('iris/deployments/dev.json');
    store.release();
    expect(store.waiting).toEqual([]);
    await store.get('iris/deployments/dev.json');
    expect(underneath.reads.filter((read) => read === 'get iris/deployments/dev.json')).toHaveLength(2);
  });

  it("fetches every served version's manifest but only the first one's artifact (one artifact per model in memory, as the preload)", async () => {
    const repository = await sampleRepository();
    const pkg = await repository.store.get('iris/1/model.onnx');
    const manifest = await repository.store.get('iris/1/manifest.json');
    if (pkg.status !== 'ok' || manifest.status !== 'ok') throw new Error('sample repository incomplete');
    for (const version of [2, 3]) {
      await repository.store.put(`iris/${version}/model.onnx`, pkg.body);
      await repository.store.put(`iris/${version}/manifest.json`, manifest.body);
    }
    await repository.store.put(
      'iris/deployments/canary.json',
      Buffer.from(
        JSON.stringify({
          variants: [
            { name: 'primary', version: 1, weight: 90 },
            { name: 'canary', version: 2, weight: 10 },
          ],
          shadow: { version: 3, sample: 0.1 },
        }),
      ),
    );
    const underneath = recording(repository.store);
    const store = new PrefetchingStore(underneath.store, 'canary');
    await store.done;
    expect(underneath.reads.filter((read) => read.startsWith('get iris/')).sort()).toEqual([
      'get iris/1/manifest.json',
      'get iris/1/model.onnx',
      'get iris/2/manifest.json',
      'get iris/3/manifest.json',
      'get iris/deployments/canary.json',
    ]);
  });

  it('hands out a prefetched answer once; a write to the key drops it', async () => {
    const repository = await sampleRepository();
    const underneath = recording(repository.store);
    const store = new PrefetchingStore(underneath.store, 'dev');
    await store.done;
    await store.list('');
    await store.list('');
    expect(underneath.reads.filter((read) => read === 'list ')).toHaveLength(2);
    const before = await store.get('iris/1/manifest.json');
    await store.put('house-price/1/manifest.json', before.status === 'ok' ? before.body : Buffer.from(''));
    expect(store.waiting).not.toContain('house-price/1/manifest.json');
  });

  it('survives a store that cannot be listed', async () => {
    const broken: ModelStore = {
      url: 'memory://broken',
      list: () => Promise.reject(new Error('unreachable')),
      get: () => Promise.reject(new Error('unreachable')),
      put: () => Promise.reject(new Error('unreachable')),
    };
    const store = new PrefetchingStore(broken, 'dev');
    await expect(store.done).resolves.toBeUndefined();
    await expect(store.list('')).rejects.toThrow('unreachable');
  });

  it('finds the versions a deployment names, and nothing in anything else', () => {
    const doc = (value: unknown) => Buffer.from(JSON.stringify(value));
    expect(
      versionsNamedIn(
        doc({ variants: [{ version: 3 }, { version: 4 }, { version: 3 }], shadow: { version: 5 } }),
      ),
    ).toEqual([3, 4, 5]);
    expect(versionsNamedIn(Buffer.from('not json'))).toEqual([]);
    expect(versionsNamedIn(doc(null))).toEqual([]);
    expect(
      versionsNamedIn(doc({ variants: [{ version: '2' }, { version: -1 }, { version: 1.5 }, null] })),
    ).toEqual([]);
  });
});

describe('loading modules in turns', () => {
  it('lets callbacks that became ready during one load run before the next load', async () => {
    const order: string[] = [];
    await loadInTurns([
      () => {
        order.push('load 1');
        setImmediate(() => order.push('callback queued by load 1'));
      },
      () => order.push('load 2'),
    ]);
    expect(order).toEqual(['load 1', 'callback queued by load 1', 'load 2']);
  });
});
