import { setCanary, setShadow, setSticky } from '../../shared/repository/deployment';
import { json, postJson, removeTempDirs } from '../support/fixtures';
import { deploy, houseRequest, irisRequest, trafficApp, twoVersionRepository } from './support';

afterAll(removeTempDirs);

type Outputs = { name: string; data: unknown[] }[];

describe('variant routing through the app', () => {
  it('names the variant and version in body and headers, consistently, for every routed request', async () => {
    const repository = await twoVersionRepository();
    await deploy(repository, 'iris', (c) => setCanary(c, 2, 30, new Date()));
    const { app, events } = trafficApp(repository);
    const seen = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const response = await app.handle(postJson('/v2/models/iris/infer', irisRequest));
      expect(response.status).toBe(200);
      const body = json(response);
      const variant = (body['parameters'] as { variant: string }).variant;
      expect(response.headers['x-model-variant']).toBe(variant);
      expect(response.headers['x-model-version']).toBe(body['model_version']);
      expect(body['model_version']).toBe(variant === 'canary' ? '2' : '1');
      expect(response.headers['x-request-id']).toBe(body['id']);
      // version 2 puts the second row in class 1; version 1 in class 2.
      const label = (body['outputs'] as Outputs).find((o) => o.name === 'label');
      expect(label?.data).toEqual(variant === 'canary' ? [0, 1] : [0, 2]);
      seen.set(variant, (seen.get(variant) ?? 0) + 1);
    }
    expect(seen.get('canary')).toBeGreaterThan(40);
    expect(seen.get('primary')).toBeGreaterThan(100);
    expect(events.filter((e) => e.variant === 'canary').every((e) => e.version === 2)).toBe(true);
  });

  it('keeps a sticky header on one variant, and a pinned route always serves its version', async () => {
    const repository = await twoVersionRepository();
    await deploy(repository, 'iris', (c) =>
      setSticky(
        setCanary(c, 2, 50, new Date()),
        { from: 'header', key: 'x-user-id', experiment: 'exp' },
        new Date(),
      ),
    );
    const { app, events } = trafficApp(repository);
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin']) {
      const variants = new Set<string | undefined>();
      for (let i = 0; i < 50; i++) {
        const response = await app.handle(
          postJson('/v2/models/iris/infer', irisRequest, { 'x-user-id': user }),
        );
        variants.add(response.headers['x-model-variant']);
      }
      expect(variants.size).toBe(1);
    }
    expect(events.every((e) => e.sticky === true)).toBe(true);
    const pinned = await app.handle(
      postJson('/v2/models/iris/versions/2/infer', irisRequest, { 'x-user-id': 'alice' }),
    );
    expect(pinned.headers).toMatchObject({ 'x-model-variant': 'pinned', 'x-model-version': '2' });
  });

  it('follows a sticky body field, in OIP parameters', async () => {
    const repository = await twoVersionRepository();
    await deploy(repository, 'iris', (c) =>
      setSticky(
        setCanary(c, 2, 50, new Date()),
        { from: 'field', key: 'user_id', experiment: 'exp' },
        new Date(),
      ),
    );
    const { app } = trafficApp(repository);
    const variants = new Set<string | undefined>();
    for (let i = 0; i < 30; i++) {
      const response = await app.handle(
        postJson('/v2/models/iris/infer', { ...irisRequest, parameters: { user_id: 'u-17' } }),
      );
      variants.add(response.headers['x-model-variant']);
    }
    expect(variants.size).toBe(1);
  });
});

describe('shadow', () => {
  for (const shadowMode of ['inline', 'background'] as const) {
    it(`never returns the shadow's result and records top-1 agreement (${shadowMode})`, async () => {
      const repository = await twoVersionRepository();
      const reference = trafficApp(repository);
      const expected = json(
        await reference.app.handle(postJson('/v2/models/iris/versions/1/infer', irisRequest)),
      );
      await deploy(repository, 'iris', (c) => setShadow(c, { version: 2, sampleRate: 1 }, new Date()));
      const { app, events } = trafficApp(repository, { shadowMode });
      for (let i = 0; i < 5; i++) {
        const response = await app.handle(postJson('/v2/models/iris/infer', { id: `r${i}`, ...irisRequest }));
        const body = json(response);
        expect(body['outputs']).toEqual(expected['outputs']);
        expect(body).toMatchObject({ model_version: '1', parameters: { variant: 'primary' } });
        expect(response.headers['x-model-version']).toBe('1');
        expect(response.body).not.toContain('"data":[0,1]');
        // Background: the response is back before the shadow ran, so its event is not out yet.
        if (shadowMode === 'background' && i === 0) expect(events).toHaveLength(0);
      }
      await app.settled();
      expect(events).toHaveLength(5);
      for (const event of events) {
        expect(event).toMatchObject({
          version: 1,
          variant: 'primary',
          shadowVersion: 2,
          shadowAgreement: 0.5,
        });
        expect(typeof event.shadowLatencyDeltaMs).toBe('number');
        expect(event.shadowMs).toBeGreaterThan(0);
        expect(event.shadowError).toBeUndefined();
      }
    });
  }

  it('records the mean absolute difference for a regressor, and a failing shadow only as a metric', async () => {
    const repository = await twoVersionRepository();
    await deploy(repository, 'house-price', (c) => setShadow(c, { version: 2, sampleRate: 1 }, new Date()));
    const { app, events } = trafficApp(repository, { shadowMode: 'inline' });
    const response = await app.handle(postJson('/v2/models/house-price/infer', houseRequest));
    expect(response.status).toBe(200);
    expect(events[0]?.shadowMeanAbsDiff).toBeCloseTo(10, 3);

    // A shadow whose artifact went bad after it was deployed: the client never notices.
    await deploy(repository, 'iris', (c) => setShadow(c, { version: 2, sampleRate: 1 }, new Date()));
    await repository.store.put('iris/2/model.onnx', Buffer.from('not a model'));
    const primary = await app.handle(postJson('/v2/models/iris/infer', irisRequest));
    expect(primary.status).toBe(200);
    expect(json(primary)).toMatchObject({ model_version: '1' });
    expect(events[1]).toMatchObject({ status: 200, version: 1, shadowVersion: 2, shadowError: 'integrity' });
    expect(events[1]?.shadowAgreement).toBeUndefined();
  });

  it('keeps the shadow off the pinned route and off unsampled requests', async () => {
    const repository = await twoVersionRepository();
    await deploy(repository, 'iris', (c) => setShadow(c, { version: 2, sampleRate: 0.5 }, new Date()));
    const { app, events } = trafficApp(repository, { shadowMode: 'inline' });
    await app.handle(postJson('/v2/models/iris/versions/1/infer', irisRequest));
    expect(events[0]?.shadowVersion).toBeUndefined();
    for (let i = 0; i < 100; i++) await app.handle(postJson('/v2/models/iris/infer', irisRequest));
    const sampled = events.filter((e) => e.shadowVersion === 2).length;
    expect(sampled).toBeGreaterThan(30);
    expect(sampled).toBeLessThan(70);
  });
});
