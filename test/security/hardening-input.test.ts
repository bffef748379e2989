/**
 * Issue 13, items 4, 5, 6 and 10: request bodies whose cost or outcome a client controls. Each
 * case here failed on the code before the fix (a quadratic check, a 500 from onnxruntime, a parse
 * before the depth check, a value that reached the model or a hint a client should not see).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { onnx } from 'onnx-proto';
import { buildModel } from '../../scripts/lib/onnx-builder';
import type { ServeRequest } from '../../shared/http/request';
import * as binaryModule from '../../shared/protocol/binary';
import { ModelRepository } from '../../shared/repository/repository';
import { checkJsonDepth } from '../../shared/security/body';
import { FsModelStore } from '../../shared/store';
import { metricFigures } from '../../shared/telemetry/metric-formats';
import { json, postJson, removeTempDirs, tempDir } from '../support/fixtures';
import { API_KEYS, KEYS, securedApp } from './support';

afterAll(removeTempDirs);

const MB = 1024 * 1024;
const ENV = { API_KEYS, RATE_LIMIT_KEY_RPS: '0', RATE_LIMIT_CLIENT_RPS: '0' };
const AUTH = { 'x-api-key': KEYS.admin };

/** A Triton-style folder (no manifests) with an identity model of two dynamic dims and one of unknown shape. */
async function freeShapeRepository(): Promise<ModelRepository> {
  const dir = tempDir('modelfleet-shapes-');
  const identity = (name: string, shape: (number | string)[]) =>
    buildModel({
      name,
      inputs: [{ name: 'x', type: 'FLOAT', shape }],
      outputs: [{ name: 'y', type: 'FLOAT', shape }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
  const write = (model: string, bytes: Uint8Array) => {
    const folder = path.join(dir, model, '1');
    mkdirSync(folder, { recursive: true });
    writeFileSync(path.join(folder, 'model.onnx'), bytes);
  };
  write('free', identity('free', ['a', 'b']));
  // No shape at all on the input and output: the signature says nothing about rank.
  const unknown = onnx.ModelProto.decode(identity('unknown', ['a']));
  for (const value of [...(unknown.graph?.input ?? []), ...(unknown.graph?.output ?? [])]) {
    if (value.type?.tensorType) value.type.tensorType.shape = null;
  }
  write('unknown', onnx.ModelProto.encode(unknown).finish());
  return new ModelRepository(new FsModelStore(dir));
}

function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  return run().then(() => performance.now() - started);
}

describe('item 5: shapes a client declares cannot cause a 500 or a large allocation', () => {
  it('answers 400 for huge dimensions next to a zero, counted as client errors, not Errors', async () => {
    const { app, events } = await securedApp(ENV, { repository: await freeShapeRepository() });
    const infer = (model: string, shape: number[], data: unknown[] = []) =>
      app.handle(
        postJson(
          `/v2/models/${model}/infer`,
          { inputs: [{ name: 'x', datatype: 'FP32', shape, data }] },
          AUTH,
        ),
      );
    const ok = await infer('free', [1, 2], [1, 2]);
    expect(ok.status).toBe(200);
    for (const [model, shape] of [
      ['free', [0, 1e300]],
      ['free', [0, 2 ** 40]],
      ['unknown', [1, 0, 2 ** 53]],
      ['unknown', [0, 2 ** 31, 2 ** 31]],
      ['free', [1, 2 ** 31, 0]],
    ] as const) {
      const response = await infer(model, [...shape]);
      expect([model, shape, response.status]).toEqual([model, shape, 400]);
      expect(String(json(response)['error'])).toMatch(/more than the limit of \d+ elements/);
    }
    const clientErrors = events.slice(1);
    expect(clientErrors).toHaveLength(5);
    for (const event of clientErrors) {
      const figures = metricFigures(event);
      expect(figures.find((f) => f.name === 'Errors')?.value).toBe(0);
      expect(figures.find((f) => f.name === 'ClientErrors')?.value).toBe(1);
    }
  });

  it('checks the data length before allocating a tensor of the declared size', async () => {
    const { app } = await securedApp(ENV, { repository: await freeShapeRepository() });
    const body = { inputs: [{ name: 'x', datatype: 'FP32', shape: [4096, 4096], data: [] as number[] }] };
    const before = process.memoryUsage().arrayBuffers;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }, 0);
    // Many in a row: an allocation per request of 64 MB shows up however fast the GC is.
    for (let i = 0; i < 20; i++) {
      const response = await app.handle(postJson('/v2/models/free/infer', body, AUTH));
      expect(response.status).toBe(400);
      expect(json(response)['error']).toBe(
        'inputs[0].data: expected 16777216 elements for shape [4096,4096], got 0',
      );
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
    clearInterval(sampler);
    expect(peak - before).toBeLessThan(32 * MB);
  });
});

describe('item 6: nesting depth is refused before the body is parsed', () => {
  it('refuses 1 MB of brackets in about the time of a flat 1 MB body', async () => {
    const limit = MB;
    const { app } = await securedApp({ ...ENV, MAX_BODY_BYTES: String(limit + 1024) });
    const half = limit / 2;
    const deep = `${'['.repeat(half)}${']'.repeat(half)}`;
    const flat = `[${'0,'.repeat(half - 1)}0]`;
    const send = (body: string) => app.handle(postJson('/v2/models/iris/infer', body, AUTH));
    const flatResponse = await send(flat);
    expect(flatResponse.status).toBe(400);
    const parse = jest.spyOn(JSON, 'parse');
    const deepResponse = await send(deep);
    // Refused from the text: JSON.parse (half a million nested arrays before the fix) never runs.
    expect(parse).not.toHaveBeenCalled();
    parse.mockRestore();
    expect(deepResponse.status).toBe(400);
    expect(json(deepResponse)['error']).toBe(
      `request body: ${'[0]'.repeat(64)} is nested more than 64 levels deep`,
    );
    const flatMs = await timed(() => send(flat));
    const deepMs = await timed(() => send(deep));
    expect(deepMs).toBeLessThan(Math.max(3 * flatMs, 50));
  });
});

describe('the text check of nesting depth', () => {
  it('counts brackets only outside strings, escaped quotes included, and names the path it refuses', () => {
    const brackets = '['.repeat(200);
    // Within the limit: 200 brackets in a value and in a key, behind an escaped quote.
    const inStrings = JSON.stringify({ [`k\\"${brackets}`]: [`v\\"${brackets}`, { a: brackets }] });
    expect(() => checkJsonDepth(inStrings, 3)).not.toThrow();
    const tooDeep = JSON.stringify({ a: [`]]]]"${brackets}`, { b: [[1]] }] });
    expect(() => checkJsonDepth(tooDeep, 4)).toThrow(
      'request body: a[1].b[0] is nested more than 4 levels deep',
    );
    expect(() => checkJsonDepth(tooDeep, 5)).not.toThrow();
  });
});

describe('item 4: request-controlled counts are checked in linear time', () => {
  /** Worst cases of each payload format, each exactly `size` bytes, and a flat body of that size. */
  function bodies(size: number): Record<string, string> {
    const columns = Array.from({ length: Math.floor(size / 10) }, (_, i) => `c${i}`);
    // The most entries that fit in `size` bytes.
    const largest = (make: (count: number) => string) => {
      let count = columns.length;
      let text = make(count);
      while (Buffer.byteLength(text) > size) {
        count = Math.floor(count * 0.95);
        text = make(count);
      }
      return text;
    };
    return {
      flat: `[${'0,'.repeat(size / 2 - 2)}0]`,
      mlflowSplitColumns: largest((n) =>
        JSON.stringify({
          dataframe_split: { columns: columns.slice(0, n), data: [columns.slice(0, n).map(() => 0)] },
        }),
      ),
      mlflowRecords: largest((n) =>
        JSON.stringify({ dataframe_records: [Object.fromEntries(columns.slice(0, n).map((c) => [c, 0]))] }),
      ),
      mlflowNamedInputs: largest((n) =>
        JSON.stringify({ inputs: Object.fromEntries(columns.slice(0, n).map((c) => [c, [0]])) }),
      ),
      tfInstances: largest((n) =>
        JSON.stringify({ instances: [Object.fromEntries(columns.slice(0, n).map((c) => [c, 0]))] }),
      ),
      tfColumns: largest((n) =>
        JSON.stringify({ inputs: Object.fromEntries(columns.slice(0, n).map((c) => [c, [0]])) }),
      ),
      oipOutputs: largest((n) =>
        JSON.stringify({
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] }],
          outputs: Array.from({ length: n }, () => ({ name: 'probabilities' })),
        }),
      ),
      oipInputs: largest((n) =>
        JSON.stringify({
          inputs: Array.from({ length: n }, () => ({
            name: 'input',
            datatype: 'FP32',
            shape: [1, 4],
            data: [1, 2, 3, 4],
          })),
        }),
      ),
    };
  }

  it('answers a worst-case body of MAX_BODY_BYTES in each payload format within a few times a flat one', async () => {
    const size = MB / 2;
    const { app } = await securedApp({ ...ENV, MAX_BODY_BYTES: String(size), MAX_BATCH_ROWS: '1000000' });
    const all = bodies(size);
    const routes: Record<string, string> = {
      flat: '/invocations?model=iris',
      mlflowSplitColumns: '/invocations?model=iris',
      mlflowRecords: '/invocations?model=iris',
      mlflowNamedInputs: '/invocations?model=iris',
      tfInstances: '/v1/models/iris:predict',
      tfColumns: '/v1/models/iris:predict',
      oipOutputs: '/v2/models/iris/infer',
      oipInputs: '/v2/models/iris/infer',
    };
    const send = (name: string) => {
      const [route, query] = (routes[name] as string).split('?');
      const request: ServeRequest = {
        ...postJson(route as string, all[name] as string, AUTH),
        query: query === undefined ? {} : Object.fromEntries(new URLSearchParams(query)),
      };
      return app.handle(request);
    };
    const best = async (name: string, runs = 1) => {
      const statuses = new Set<number>();
      let ms = Number.POSITIVE_INFINITY;
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        statuses.add((await send(name)).status);
        ms = Math.min(ms, performance.now() - started);
      }
      return { ms, statuses: [...statuses] };
    };
    const flat = await best('flat', 2);
    expect(flat.statuses).toEqual([400]);
    const report: Record<string, number> = { flat: Math.round(flat.ms) };
    for (const name of Object.keys(all).filter((n) => n !== 'flat')) {
      expect(Buffer.byteLength(all[name] as string)).toBeLessThanOrEqual(size);
      // Best of two, like the flat body: one run can meet a GC pause or the other test worker.
      const result = await best(name, 2);
      report[name] = Math.round(result.ms);
      for (const status of result.statuses) expect([name, status < 500]).toEqual([name, true]);
    }
    // Before the fix mlflowSplitColumns (≈ 100,000 distinct columns) took seconds here.
    const bound = Math.max(4 * flat.ms, 100);
    const slow = Object.entries(report).filter(([, ms]) => ms > bound);
    expect({ slow, report }).toEqual({ slow: [], report });
  });
});

describe('item 10: one policy for values and hints', () => {
  it('refuses NaN and Infinity in binary FP32/FP64 data and null in MLflow and TF-Serving rows', async () => {
    const { app } = await securedApp(ENV);
    const binary = (values: number[]) => {
      const header = Buffer.from(
        JSON.stringify({
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }],
        }),
      );
      const data = Buffer.from(new Float32Array(values).buffer);
      return app.handle({
        method: 'POST',
        path: '/v2/models/iris/infer',
        query: {},
        headers: { ...AUTH, 'inference-header-content-length': String(header.byteLength) },
        body: Buffer.concat([header, data]),
      });
    };
    expect((await binary([5.1, 3.5, 1.4, 0.2])).status).toBe(200);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const response = await binary([5.1, bad, 1.4, 0.2]);
      expect(response.status).toBe(400);
      expect(json(response)['error']).toBe(
        'inputs[0]: binary FP32 element 1 is NaN or Infinity; only finite numbers are accepted',
      );
    }
    const mlflow = await app.handle(
      postJson(
        '/invocations',
        {
          dataframe_split: {
            columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
            data: [[5.1, null, 1.4, 0.2]],
          },
        },
        AUTH,
      ),
    );
    // The query names the model: postJson leaves it empty, so set it here.
    expect(mlflow.status).toBe(400);
    const withModel = await app.handle({
      ...postJson(
        '/invocations',
        {
          dataframe_split: {
            columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
            data: [[5.1, null, 1.4, 0.2]],
          },
        },
        AUTH,
      ),
      query: { model: 'iris' },
    });
    expect(withModel.status).toBe(400);
    expect(json(withModel)['error']).toMatch(/is null, expected a number for FP32/);
    const tf = await app.handle(
      postJson(
        '/v1/models/iris:predict',
        { instances: [{ sepal_length: 5.1, sepal_width: null, petal_length: 1.4, petal_width: 0.2 }] },
        AUTH,
      ),
    );
    expect(tf.status).toBe(400);
    expect(json(tf)['error']).toMatch(/is null, expected a number for FP32/);
  });

  it('refuses binary BYTES elements that are not UTF-8 instead of replacing them', async () => {
    const { decodeBinaryInput, parseBinaryBody } = binaryModule;
    const element = (bytes: Buffer) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.byteLength);
      return Buffer.concat([length, bytes]);
    };
    const decode = (bytes: Buffer) => {
      const header = Buffer.from('{"inputs":[]}');
      const body = parseBinaryBody(
        {
          method: 'POST',
          path: '/',
          query: {},
          headers: { 'inference-header-content-length': String(header.byteLength) },
          body: Buffer.concat([header, bytes]),
        },
        { maxBodyBytes: MB, maxJsonDepth: 64, maxBatchRows: 100 },
      );
      return decodeBinaryInput(body, 'BYTES', [1], 1, bytes.byteLength, 'inputs[0]');
    };
    expect(decode(element(Buffer.from('héllo')))).toEqual(['héllo']);
    expect(() => decode(element(Buffer.from([0x68, 0xff, 0x69])))).toThrow(
      'inputs[0]: binary BYTES element 0 is not valid UTF-8',
    );
  });

  it('refuses a JWT issued in the future', async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const issuer = 'https://idp.test/';
    const audience = 'modelfleet-api';
    const { app } = await securedApp({
      JWT_PUBLIC_KEY: await exportSPKI(publicKey),
      JWT_ISSUER: issuer,
      JWT_AUDIENCE: audience,
    });
    const token = (iat: number) =>
      new SignJWT({ scope: 'predict' })
        .setProtectedHeader({ alg: 'RS256' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject('user-1')
        .setIssuedAt(iat)
        .setExpirationTime(iat + 7200)
        .sign(privateKey);
    const call = async (iat: number) => {
      const response = await app.handle(
        postJson(
          '/v2/models/iris/infer',
          { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] },
          { authorization: `Bearer ${await token(iat)}` },
        ),
      );
      return [response.status, json(response)['error']];
    };
    const now = Math.floor(Date.now() / 1000);
    expect(await call(now - 60)).toEqual([200, undefined]);
    expect(await call(now + 3)).toEqual([200, undefined]); // within the 5 s clock tolerance
    expect(await call(now + 3600)).toEqual([
      401,
      'bearer token claim "iat" is not valid: it was issued in the future',
    ]);
  });

  it('does not tell predict clients which models are published but not deployed, except on local', async () => {
    const { app, repository } = await securedApp(ENV);
    const pkg = {
      manifest: (await repository.readManifest('iris', 1)) as NonNullable<
        Awaited<ReturnType<typeof repository.readManifest>>
      >,
      artifact: (await repository.store.get('iris/1/model.onnx')) as { status: 'ok'; body: Buffer },
    };
    await repository.publish({
      manifest: { ...pkg.manifest, name: 'unreleased' },
      artifact: pkg.artifact.body,
    });
    const ask = async (model: string) => {
      const response = await app.handle(
        postJson(`/v2/models/${model}/infer`, { inputs: [] }, { 'x-api-key': KEYS.predict }),
      );
      return [response.status, json(response)['error']];
    };
    expect(await ask('unreleased')).toEqual([404, 'model "unreleased" not found']);
    expect(await ask('never-published')).toEqual([404, 'model "never-published" not found']);
    const local = await securedApp({ MODELFLEET_STAGE: 'local' }, { repository });
    const response = await local.app.handle(postJson('/v2/models/unreleased/infer', { inputs: [] }));
    expect(json(response)['error']).toMatch(/is not deployed on stage "local"; promote a version/);
  });
});
