import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelRepository } from '../../shared/repository/repository';
import { ModelCache } from '../../shared/serving/model-cache';
import * as nativeSession from '../../shared/serving/native-session';
import type { FsModelStore, ModelStore } from '../../shared/store';
import {
  get,
  json,
  postJson,
  removeTempDirs,
  sampleApp,
  sampleRepository,
  sampleRequest,
} from '../support/fixtures';

const samplesDir = path.join(__dirname, '..', '..', 'samples');
const irisRequest = sampleRequest('iris');
const houseRequest = sampleRequest('house-price');

afterAll(removeTempDirs);

describe('Open Inference Protocol routes', () => {
  it('infers with the deployed version and matches onnxruntime run directly', async () => {
    const { app } = await sampleApp();
    const response = await app.handle(postJson('/v2/models/iris/infer', { id: 'req-1', ...irisRequest }));
    expect(response.status).toBe(200);
    const body = json(response);
    expect(body).toMatchObject({
      model_name: 'iris',
      model_version: '1',
      id: 'req-1',
      parameters: { variant: 'primary' },
    });
    expect(response.headers).toMatchObject({
      'x-model-version': '1',
      'x-model-variant': 'primary',
      'x-model-name': 'iris',
    });

    const session = await ort.InferenceSession.create(
      readFileSync(path.join(samplesDir, 'iris', 'model.onnx')),
    );
    const direct = await session.run({
      input: new ort.Tensor('float32', Float32Array.from(irisRequest.inputs[0].data), [2, 4]),
    });
    const outputs = body['outputs'] as { name: string; data: number[]; shape: number[]; datatype: string }[];
    const probabilities = outputs.find((o) => o.name === 'probabilities');
    expect(probabilities?.shape).toEqual([2, 3]);
    Array.from(direct['probabilities']?.data as Float32Array).forEach((value, i) => {
      expect(probabilities?.data[i]).toBeCloseTo(value, 5);
    });
    expect(outputs.find((o) => o.name === 'label')).toEqual({
      name: 'label',
      datatype: 'INT64',
      shape: [2],
      data: [0, 2],
    });
  });

  it('serves a model with several named inputs including int64 ones', async () => {
    const { app } = await sampleApp();
    const response = await app.handle(postJson('/v2/models/house-price/infer', houseRequest));
    expect(response.status).toBe(200);
    const [price] = json(response)['outputs'] as { data: number[] }[];
    const expected = JSON.parse(readFileSync(path.join(samplesDir, 'house-price', 'sample.json'), 'utf8'))
      .outputs[0].data;
    price?.data.forEach((value, i) => {
      expect(value).toBeCloseTo(expected[i], 3);
    });
  });

  it('honours the outputs field and a pinned version route', async () => {
    const { app } = await sampleApp();
    const response = await app.handle(
      postJson('/v2/models/iris/versions/1/infer', { ...irisRequest, outputs: [{ name: 'label' }] }),
    );
    expect(response.status).toBe(200);
    expect(json(response)['outputs']).toEqual([
      { name: 'label', datatype: 'INT64', shape: [2], data: [0, 2] },
    ]);
    expect(response.headers['x-model-variant']).toBe('pinned');
  });

  it('answers metadata, readiness and health routes', async () => {
    const { app } = await sampleApp();
    const server = json(await app.handle(get('/v2')));
    expect(server).toMatchObject({ name: 'modelfleet' });
    expect((await app.handle(get('/v2/health/live'))).status).toBe(200);
    expect(json(await app.handle(get('/v2/health/ready')))).toEqual({
      ready: true,
      versions: { loaded: 0, expected: 0 },
      store: 'not-checked',
    });
    const meta = json(await app.handle(get('/v2/models/iris')));
    expect(meta).toMatchObject({
      name: 'iris',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
    });
    expect(json(await app.handle(get('/v2/models/iris/versions/1')))).toMatchObject({ name: 'iris' });
    expect(json(await app.handle(get('/v2/models/iris/ready')))).toEqual({
      name: 'iris',
      version: '1',
      ready: true,
    });
    expect((await app.handle(get('/v2/models/iris/versions/1/ready'))).status).toBe(200);
  });

  it('emits one metric event per request with model, version, variant and timings', async () => {
    const { app, events } = await sampleApp();
    await app.handle(postJson('/v2/models/iris/infer', irisRequest));
    await app.handle(postJson('/v2/models/iris/infer', irisRequest));
    await app.handle(get('/v2/models/nope'));
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({
      route: 'infer',
      status: 200,
      model: 'iris',
      version: 1,
      variant: 'primary',
      cache: 'miss',
      coldStart: true,
    });
    expect(events[1]).toMatchObject({ cache: 'hit', coldStart: false, batchSize: 2 });
    expect(events[1]?.inferenceMs).toBeGreaterThan(0);
    expect(events[2]).toMatchObject({ status: 404, errorClass: 'not_found' });
  });
});

describe('validation errors', () => {
  const input = (over: Record<string, unknown>) => ({ inputs: [{ ...irisRequest.inputs[0], ...over }] });

  it.each([
    ['a missing input', { inputs: [] }, 400, 'inputs: missing input "input" (FP32 [-1,4])'],
    [
      'an unknown input',
      input({ name: 'x' }),
      400,
      'inputs[0].name: model "iris" has no input "x"; its inputs are input',
    ],
    [
      'a wrong datatype',
      input({ datatype: 'FP64' }),
      400,
      'inputs[0].datatype: input "input" expects FP32, got FP64',
    ],
    ['a wrong shape', input({ shape: [2, 3] }), 400, 'inputs[0].shape[1]: expected 4 [-1,4], got 3 [2,3]'],
    [
      'a wrong element count',
      input({ shape: [3, 4] }),
      400,
      'inputs[0].data: expected 12 elements for shape [3,4], got 8',
    ],
    [
      'a non-number element',
      input({ shape: [1, 4], data: [1, 2, 'x', 4] }),
      400,
      'inputs[0].data: element 2 (row-major) is "x"',
    ],
    ['no inputs array', { input: [] }, 400, 'inputs: expected an array of tensors, got nothing'],
    [
      'an unknown output',
      { ...irisRequest, outputs: [{ name: 'zzz' }] },
      400,
      'outputs[0].name: model "iris" has no output "zzz"',
    ],
    [
      'a body that is not an object',
      [1, 2],
      400,
      'request body: expected a JSON object with "inputs", got array',
    ],
  ])('rejects %s with a message naming the field', async (_case, body, status, message) => {
    const { app } = await sampleApp();
    const response = await app.handle(postJson('/v2/models/iris/infer', body));
    expect(response.status).toBe(status);
    expect(json(response)['error']).toContain(message);
  });

  it('rejects invalid JSON, empty bodies, oversized bodies and other media types', async () => {
    const { app } = await sampleApp({ maxBodyBytes: 2048 });
    const bad = await app.handle(postJson('/v2/models/iris/infer', '{"inputs": ['));
    expect(bad.status).toBe(400);
    expect(json(bad)['error']).toMatch(/^request body is not valid JSON/);
    expect((await app.handle(postJson('/v2/models/iris/infer', ''))).status).toBe(400);
    const big = await app.handle(
      postJson('/v2/models/iris/infer', JSON.stringify({ pad: 'x'.repeat(4096) })),
    );
    expect(big.status).toBe(413);
    const xml = await app.handle(
      postJson('/v2/models/iris/infer', '<x/>', { 'content-type': 'application/xml' }),
    );
    expect(xml.status).toBe(415);
  });

  it('answers 404 for unknown models, versions and routes, 405 for wrong methods, 400 for bad names', async () => {
    const { app } = await sampleApp();
    const missing = await app.handle(postJson('/v2/models/nope/infer', irisRequest));
    expect([missing.status, json(missing)['error']]).toEqual([404, 'model "nope" not found']);
    const noVersion = await app.handle(postJson('/v2/models/iris/versions/9/infer', irisRequest));
    expect([noVersion.status, json(noVersion)['error']]).toEqual([404, 'model "iris" has no version 9']);
    expect((await app.handle(get('/v3/whatever'))).status).toBe(404);
    const wrongMethod = await app.handle(get('/v2/models/iris/infer'));
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers['allow']).toBe('POST');
    expect((await app.handle(postJson('/v2/models/iris/versions/0/infer', irisRequest))).status).toBe(400);
    expect((await app.handle(postJson('/v2/models/..%2Fetc/infer', irisRequest))).status).toBe(400);
  });

  it('answers a model that exists but is not deployed like one that does not (the hint is for local only)', async () => {
    const { app } = await sampleApp({ stage: 'prod' });
    const response = await app.handle(postJson('/v2/models/iris/infer', irisRequest));
    expect(response.status).toBe(404);
    expect(json(response)['error']).toBe('model "iris" not found');
  });

  it('turns data the graph refuses (an index out of range) into a 400, not a 500', async () => {
    const { app } = await sampleApp();
    const request = structuredClone(houseRequest);
    request.inputs[2].data = [[1], [99], [0]];
    const response = await app.handle(postJson('/v2/models/house-price/infer', request));
    expect(response.status).toBe(400);
    expect(json(response)['error']).toMatch(/^the model could not run on these inputs/);
  });
});

describe('integrity and caching', () => {
  it('refuses a corrupted artifact with 503 and never runs it', async () => {
    const repository = await sampleRepository();
    const root = (repository.store as FsModelStore).root;
    const artifact = path.join(root, 'iris', '1', 'model.onnx');
    const bytes = readFileSync(artifact);
    bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 0xff, bytes.length - 1);
    writeFileSync(artifact, bytes);
    const create = jest.spyOn(nativeSession, 'createSession');
    const { app, events } = await sampleApp({ stage: 'local', exposeInternals: false }, repository);
    const response = await app.handle(postJson('/v2/models/iris/infer', irisRequest));
    expect(response.status).toBe(503);
    expect(json(response)['error']).toBe(
      'model "iris" version 1 failed its integrity check and will not be served',
    );
    expect(create).not.toHaveBeenCalled();
    expect(events[0]?.errorClass).toBe('integrity');
    create.mockRestore();
  });

  it('loads a version once for concurrent first requests and retries after a failed load', async () => {
    const repository = await sampleRepository();
    let reads = 0;
    let failNext = true;
    const store = repository.store;
    const counting: ModelStore = {
      url: store.url,
      list: (prefix) => store.list(prefix),
      put: (key, body, options) => store.put(key, body, options),
      get: async (key, options) => {
        if (key.endsWith('model.onnx')) {
          reads++;
          if (failNext) {
            failNext = false;
            throw new Error('connection reset');
          }
        }
        return store.get(key, options);
      },
    };
    const cache = new ModelCache(new ModelRepository(counting), 4);
    await expect(cache.get('iris', 1)).rejects.toThrow('could not be read from the repository');
    const lookups = await Promise.all(Array.from({ length: 20 }, () => cache.get('iris', 1)));
    expect(reads).toBe(2);
    expect(new Set(lookups.map((l) => l.model)).size).toBe(1);
    expect(lookups.filter((l) => !l.hit)).toHaveLength(1);
  });

  it('keeps at most maxModels sessions, evicting the least recently used', async () => {
    const repository = await sampleRepository();
    const cache = new ModelCache(repository, 1);
    await cache.get('iris', 1);
    await cache.get('house-price', 1);
    expect(cache.keys()).toEqual(['house-price@1']);
  });
});
