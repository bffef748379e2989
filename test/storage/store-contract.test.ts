import { promote } from '../../shared/repository/deployment';
import { ModelRepository } from '../../shared/repository/repository';
import { PreconditionFailedError } from '../../shared/store';
import { removeTempDirs } from '../support/fixtures';
import { CAS_STORE_KINDS, closeFakeGcs, freshStore, irisPackage, STORE_KINDS } from './stores';

afterAll(async () => {
  await closeFakeGcs();
  removeTempDirs();
});

describe.each(STORE_KINDS)('%s store: reads, lists and conditional reads', (kind) => {
  it('writes and reads back objects, lists children, and reports missing keys', async () => {
    const store = await freshStore(kind);
    const written = await store.put('m/1/manifest.json', Buffer.from('{"a":1}'), {
      contentType: 'application/json',
    });
    await store.put('m/1/model.onnx', Buffer.from([0, 1, 2, 255]));
    await store.put('m/deployments/dev.json', Buffer.from('{}'));
    await store.put('other/2/model.onnx', Buffer.from('x'));

    const read = await store.get('m/1/manifest.json');
    expect(read).toEqual({ status: 'ok', body: Buffer.from('{"a":1}'), etag: written.etag });
    expect(await store.get('m/1/model.onnx')).toMatchObject({ body: Buffer.from([0, 1, 2, 255]) });
    expect(await store.get('m/9/manifest.json')).toEqual({ status: 'not-found' });
    expect(await store.list('')).toEqual(['m', 'other']);
    expect(await store.list('m')).toEqual(['1', 'deployments']);
    expect(await store.list('m/1')).toEqual(['manifest.json', 'model.onnx']);
    expect(await store.list('nothing-here')).toEqual([]);
  });

  it('answers a conditional read with not-modified while the ETag holds, and the new body after a change', async () => {
    const store = await freshStore(kind);
    const first = await store.put('m/deployments/dev.json', Buffer.from('{"v":1}'));
    expect(await store.get('m/deployments/dev.json', { ifNoneMatch: first.etag })).toEqual({
      status: 'not-modified',
      etag: first.etag,
    });
    const second = await store.put('m/deployments/dev.json', Buffer.from('{"v":2}'));
    expect(second.etag).not.toBe(first.etag);
    expect(await store.get('m/deployments/dev.json', { ifNoneMatch: first.etag })).toEqual({
      status: 'ok',
      body: Buffer.from('{"v":2}'),
      etag: second.etag,
    });
  });

  it('publishes a version that reads back intact', async () => {
    const repository = new ModelRepository(await freshStore(kind));
    const pkg = await irisPackage();
    expect(await repository.publish(pkg)).toBe(1);
    expect(await repository.publish(pkg)).toBe(2);
    expect(await repository.listModels()).toEqual(['iris']);
    expect(await repository.listVersions('iris')).toEqual([1, 2]);
    expect(await repository.checkIntegrity('iris', 2)).toBeUndefined();
    expect((await repository.readManifest('iris', 2)).version).toBe(2);
  });
});

describe.each(CAS_STORE_KINDS)('%s store: compare-and-swap', (kind) => {
  it('create-if-absent fails on an existing key; If-Match fails on a stale ETag and leaves the object alone', async () => {
    const store = await freshStore(kind);
    const created = await store.put('k.json', Buffer.from('one'), { ifNoneMatch: '*' });
    await expect(store.put('k.json', Buffer.from('two'), { ifNoneMatch: '*' })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    const updated = await store.put('k.json', Buffer.from('three'), { ifMatch: created.etag });
    await expect(store.put('k.json', Buffer.from('four'), { ifMatch: created.etag })).rejects.toBeInstanceOf(
      PreconditionFailedError,
    );
    expect(await store.get('k.json')).toEqual({
      status: 'ok',
      body: Buffer.from('three'),
      etag: updated.etag,
    });
  });

  it('lets exactly one of 10 concurrent create-if-absent writes win', async () => {
    const store = await freshStore(kind);
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        store.put('claim.json', Buffer.from(`writer ${i}`), { ifNoneMatch: '*' }),
      ),
    );
    const winners = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(PreconditionFailedError);
    }
  });

  it('gives 6 concurrent publishers 6 different versions', async () => {
    const repository = new ModelRepository(await freshStore(kind));
    const pkg = await irisPackage();
    const versions = await Promise.all(Array.from({ length: 6 }, () => repository.publish(pkg)));
    expect([...versions].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await repository.listVersions('iris')).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('keeps every accepted change of 20 concurrent deployment writers (no lost update)', async () => {
    const repository = new ModelRepository(await freshStore(kind));
    const pkg = await irisPackage();
    await repository.publish(pkg);
    await repository.publish(pkg);
    const writers = Array.from({ length: 20 }, (_, i) =>
      repository.updateDeployment('iris', 'prod', (current) =>
        promote(current, { model: 'iris', stage: 'prod', version: (i % 2) + 1 }, new Date(), `writer-${i}`),
      ),
    );
    const outcomes = await Promise.allSettled(writers);
    const accepted = outcomes.flatMap((outcome, i) =>
      outcome.status === 'fulfilled' ? [`writer-${i}`] : [],
    );
    // Every writer retries on fresh state, so all of them get through.
    expect(accepted).toHaveLength(20);
    const final = await repository.readDeployment('iris', 'prod');
    if (final.status !== 'ok') throw new Error('no deployment written');
    const actors = final.config.history.map((entry) => entry.actor);
    expect([...actors].sort()).toEqual([...accepted].sort());
    expect(final.config.history).toHaveLength(20);
  }, 60_000);
});
