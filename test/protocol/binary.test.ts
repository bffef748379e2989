import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createHandler } from '../../functions/aws/handler';
import { createLocalServer } from '../../functions/local/handler';
import type { ServeRequest, ServeResponse } from '../../shared/http/request';
import {
  get,
  json,
  postJson,
  removeTempDirs,
  sampleApp,
  sampleRequest,
  type TestApp,
} from '../support/fixtures';

afterAll(removeTempDirs);

const irisRequest = sampleRequest('iris');
const houseRequest = sampleRequest('house-price');

let testApp: TestApp;
beforeAll(async () => {
  testApp = await sampleApp();
});

interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown;
  parameters?: Record<string, unknown>;
}

function bytesOf(tensor: Tensor): Buffer {
  const flat = (tensor.data as unknown[]).flat(10) as number[];
  if (tensor.datatype === 'FP32') return Buffer.from(Float32Array.from(flat).buffer);
  if (tensor.datatype === 'INT64') return Buffer.from(BigInt64Array.from(flat.map(BigInt)).buffer);
  throw new Error(`no encoder for ${tensor.datatype}`);
}

/** A binary-extension body: the named inputs travel as bytes, the rest as JSON. */
function binaryBody(
  request: { inputs: Tensor[]; [key: string]: unknown },
  binaryInputs: (name: string) => boolean = () => true,
): { body: Buffer; headerLength: number } {
  const parts: Buffer[] = [];
  const inputs = request.inputs.map((tensor) => {
    if (!binaryInputs(tensor.name)) return tensor;
    const bytes = bytesOf(tensor);
    parts.push(bytes);
    const { data: _data, ...rest } = tensor;
    return { ...rest, parameters: { binary_data_size: bytes.byteLength } };
  });
  const header = Buffer.from(JSON.stringify({ ...request, inputs }));
  return { body: Buffer.concat([header, ...parts]), headerLength: header.byteLength };
}

function postBinary(
  model: string,
  body: Buffer,
  headerLength: number | string,
  headers: Record<string, string> = {},
): ServeRequest {
  return {
    method: 'POST',
    path: `/v2/models/${model}/infer`,
    query: {},
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(headerLength),
      ...headers,
    },
    body,
  };
}

/** Splits a binary-extension response into its JSON header and the bytes after it. */
function splitResponse(response: ServeResponse): { header: { outputs: Tensor[] }; rest: Buffer } {
  const length = Number(response.headers['inference-header-content-length']);
  const body = Buffer.from(response.body as Uint8Array);
  return { header: JSON.parse(body.subarray(0, length).toString('utf8')), rest: body.subarray(length) };
}

const withoutId = (body: Record<string, unknown>) => ({ ...body, id: undefined });

describe('binary tensor data extension', () => {
  it('is announced in the server metadata', async () => {
    expect(json(await testApp.app.handle(get('/v2')))).toMatchObject({ extensions: ['binary_tensor_data'] });
  });

  it('gives the same outputs for binary inputs as for JSON inputs', async () => {
    const { app } = testApp;
    const viaJson = await app.handle(postJson('/v2/models/iris/infer', irisRequest));
    const { body, headerLength } = binaryBody(irisRequest);
    const viaBinary = await app.handle(postBinary('iris', body, headerLength));
    expect(viaBinary.status).toBe(200);
    expect(viaBinary.headers['content-type']).toBe('application/json');
    expect(withoutId(json(viaBinary))).toEqual(withoutId(json(viaJson)));
  });

  it('mixes binary and JSON inputs, including INT64 ones', async () => {
    const { app } = testApp;
    const viaJson = await app.handle(postJson('/v2/models/house-price/infer', houseRequest));
    for (const pickBinary of [
      (name: string) => name === 'area' || name === 'rooms',
      (name: string) => name === 'district',
      () => true,
    ]) {
      const { body, headerLength } = binaryBody(houseRequest, pickBinary);
      const viaBinary = await app.handle(postBinary('house-price', body, headerLength));
      expect(viaBinary.status).toBe(200);
      expect(withoutId(json(viaBinary))).toEqual(withoutId(json(viaJson)));
    }
  });

  it('returns outputs as binary when asked, per output or for all', async () => {
    const { app } = testApp;
    const reference = json(await app.handle(postJson('/v2/models/iris/infer', irisRequest))) as {
      outputs: Tensor[];
    };
    const [probabilities, label] = reference.outputs as [Tensor, Tensor];

    const one = await app.handle(
      postJson('/v2/models/iris/infer', {
        ...irisRequest,
        outputs: [{ name: 'probabilities', parameters: { binary_data: true } }, { name: 'label' }],
      }),
    );
    expect(one.status).toBe(200);
    expect(one.headers['content-type']).toBe('application/octet-stream');
    const split = splitResponse(one);
    expect(split.header.outputs).toEqual(
      [{ ...probabilities, data: undefined, parameters: { binary_data_size: 24 } }, label].map((tensor) =>
        JSON.parse(JSON.stringify(tensor)),
      ),
    );
    const floats = new Float32Array(
      split.rest.buffer.slice(split.rest.byteOffset, split.rest.byteOffset + 24),
    );
    expect([...floats]).toEqual((probabilities.data as number[]).map(Math.fround));

    const all = splitResponse(
      await app.handle(
        postJson('/v2/models/iris/infer', { ...irisRequest, parameters: { binary_data_output: true } }),
      ),
    );
    expect(all.header.outputs.map((o) => o.parameters)).toEqual([
      { binary_data_size: 24 },
      { binary_data_size: 16 },
    ]);
    const labels = new BigInt64Array(
      all.rest.buffer.slice(all.rest.byteOffset + 24, all.rest.byteOffset + 40),
    );
    expect([...labels].map(Number)).toEqual(label.data);

    // A per-output false wins over the request-wide default.
    const mixed = splitResponse(
      await app.handle(
        postJson('/v2/models/iris/infer', {
          ...irisRequest,
          parameters: { binary_data_output: true },
          outputs: [{ name: 'label', parameters: { binary_data: false } }, { name: 'probabilities' }],
        }),
      ),
    );
    expect(mixed.header.outputs[0]).toEqual(label);
    expect(mixed.rest.byteLength).toBe(24);
  });

  it.each([
    [
      'a size that does not match the shape',
      () => {
        const { body, headerLength } = binaryBody(irisRequest);
        const header = JSON.parse(body.subarray(0, headerLength).toString());
        header.inputs[0].parameters.binary_data_size = 28;
        const text = Buffer.from(JSON.stringify(header));
        return postBinary('iris', Buffer.concat([text, body.subarray(headerLength)]), text.byteLength);
      },
      'inputs[0].parameters.binary_data_size: FP32 [2,4] takes 32 bytes, got 28',
    ],
    [
      'a header length beyond the body',
      () => {
        const { body } = binaryBody(irisRequest);
        return postBinary('iris', body, body.byteLength + 1);
      },
      `inference-header-content-length header: ${binaryBody(irisRequest).body.byteLength + 1} bytes is beyond the body's ${binaryBody(irisRequest).body.byteLength} bytes`,
    ],
    [
      'a header length that is not a number',
      () => postBinary('iris', binaryBody(irisRequest).body, '12x'),
      'inference-header-content-length header: expected the JSON header\'s length in bytes, got "12x"',
    ],
    [
      'binary data shorter than declared',
      () => {
        const { body, headerLength } = binaryBody(irisRequest);
        return postBinary('iris', body.subarray(0, body.byteLength - 4), headerLength);
      },
      'inputs[0].parameters.binary_data_size: 32 bytes run past the end of the body (28 bytes of binary data left)',
    ],
    [
      'bytes nobody claims',
      () => {
        const { body, headerLength } = binaryBody(irisRequest);
        return postBinary('iris', Buffer.concat([body, Buffer.alloc(8)]), headerLength);
      },
      "request body: 8 bytes of binary data after the inputs' binary_data_size total of 32",
    ],
    [
      'a header length cutting the JSON',
      () => {
        const { body, headerLength } = binaryBody(irisRequest);
        return postBinary('iris', body, headerLength - 1);
      },
      'request body: the first',
    ],
    [
      'binary_data_size without the length header',
      () => {
        const { body, headerLength } = binaryBody(irisRequest);
        return postJson('/v2/models/iris/infer', body.subarray(0, headerLength).toString());
      },
      'inputs[0].parameters.binary_data_size: the request has no binary data',
    ],
    [
      'both data and binary_data_size',
      () => {
        const header = Buffer.from(
          JSON.stringify({
            inputs: [{ ...irisRequest.inputs[0], parameters: { binary_data_size: 32 } }],
          }),
        );
        return postBinary('iris', Buffer.concat([header, Buffer.alloc(32)]), header.byteLength);
      },
      'inputs[0]: give either data or parameters.binary_data_size, not both',
    ],
    [
      'a negative size',
      () => {
        const header = Buffer.from(
          JSON.stringify({
            inputs: [
              { name: 'input', datatype: 'FP32', shape: [2, 4], parameters: { binary_data_size: -1 } },
            ],
          }),
        );
        return postBinary('iris', header, header.byteLength);
      },
      'inputs[0].parameters.binary_data_size: expected a non-negative integer, got -1',
    ],
  ])('answers 400 naming the problem for %s', async (_what, request, message) => {
    const response = await testApp.app.handle(request());
    expect(response.status).toBe(400);
    expect(String(json(response)['error'])).toContain(message);
  });

  it('passes through the AWS adapter (base64 in and out)', async () => {
    const { body, headerLength } = binaryBody(irisRequest);
    const event = JSON.parse(
      readFileSync(path.join(__dirname, '..', 'events', 'http-api-v2-infer.json'), 'utf8'),
    ) as APIGatewayProxyEventV2;
    event.headers = {
      'content-type': 'application/octet-stream',
      'Inference-Header-Content-Length': String(headerLength),
    };
    event.body = body.toString('base64');
    event.isBase64Encoded = true;
    const handler = createHandler(testApp.app);
    const plain = (await handler({ ...event }, {} as Context)) as { statusCode: number; body: string };
    expect(plain.statusCode).toBe(200);
    const reference = json(await testApp.app.handle(postJson('/v2/models/iris/infer', irisRequest)));
    expect(withoutId(JSON.parse(plain.body))).toEqual(withoutId(reference));

    const header = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], parameters: { binary_data_size: 32 } }],
        parameters: { binary_data_output: true },
      }),
    );
    event.body = Buffer.concat([header, body.subarray(headerLength)]).toString('base64');
    event.headers['Inference-Header-Content-Length'] = String(header.byteLength);
    const binary = (await handler(event, {} as Context)) as {
      statusCode: number;
      body: string;
      isBase64Encoded: boolean;
      headers: Record<string, string>;
    };
    expect(binary.statusCode).toBe(200);
    expect(binary.isBase64Encoded).toBe(true);
    const split = splitResponse({
      status: 200,
      headers: binary.headers,
      body: Buffer.from(binary.body, 'base64'),
    });
    expect(split.header.outputs.map((o) => o.name)).toEqual(['probabilities', 'label']);
    expect(split.rest.byteLength).toBe(40);
  });

  it('passes through the local HTTP server (Buffers)', async () => {
    const server = createLocalServer(testApp.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { body, headerLength } = binaryBody(irisRequest);
      const response = await fetch(`http://127.0.0.1:${port}/v2/models/iris/infer`, {
        method: 'POST',
        body,
        headers: { 'inference-header-content-length': String(headerLength) },
      });
      expect(response.status).toBe(200);
      const reference = json(await testApp.app.handle(postJson('/v2/models/iris/infer', irisRequest)));
      expect(withoutId((await response.json()) as Record<string, unknown>)).toEqual(withoutId(reference));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
