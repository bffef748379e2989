import { sampleRequest } from '../support/fixtures';

/**
 * The one table every platform adapter must satisfy, unchanged: a request as a client sends it and
 * the parts of the answer a client relies on. Targets (test/conformance/targets.ts) only translate.
 */
export interface ConformanceCase {
  name: string;
  method: string;
  /** Path with an optional query string, as on the wire. */
  path: string;
  headers?: Record<string, string>;
  /** A Buffer is sent as bytes (base64 in Lambda events); a string as text. */
  body?: string | Buffer;
  expect: {
    status: number;
    headers?: Record<string, string | RegExp>;
    /** Subset of the JSON body. */
    json?: Record<string, unknown>;
    /** For errors: the `error` message. */
    error?: RegExp;
    /** Response headers that must be absent. */
    absentHeaders?: string[];
  };
}

const iris = sampleRequest('iris');
const house = sampleRequest('house-price');
const irisInput = iris.inputs[0];

/** The iris request's JSON header for the binary tensor data extension (32 bytes of FP32 follow). */
const BINARY_HEADER = Buffer.from(
  JSON.stringify({
    inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 4], parameters: { binary_data_size: 32 } }],
  }),
);

/** The one browser origin every target allows (CORS_ORIGINS). */
export const CORS_ORIGIN = 'https://app.example.test';

/** Limit every target is configured with, so the 413 case stays small. */
export const MAX_BODY_BYTES = 64 * 1024;

const JSON_TYPE = { 'content-type': 'application/json' };
const json = (value: unknown) => JSON.stringify(value);
const irisWith = (over: Record<string, unknown>) => json({ inputs: [{ ...irisInput, ...over }] });
const served = (model: string, version: string, variant: string) => ({
  'x-model-name': model,
  'x-model-version': version,
  'x-model-variant': variant,
});
const IRIS_LABELS = {
  outputs: expect.arrayContaining([{ name: 'label', datatype: 'INT64', shape: [2], data: [0, 2] }]),
};

export const CASES: ConformanceCase[] = [
  // ---- every route ----
  {
    name: 'server metadata',
    method: 'GET',
    path: '/v2',
    expect: { status: 200, json: { name: 'modelfleet', extensions: ['binary_tensor_data'] } },
  },
  {
    name: 'server metadata with a trailing slash',
    method: 'GET',
    path: '/v2/',
    expect: { status: 200, json: { name: 'modelfleet' } },
  },
  { name: 'liveness', method: 'GET', path: '/v2/health/live', expect: { status: 200, json: { live: true } } },
  {
    name: 'readiness',
    method: 'GET',
    path: '/v2/health/ready',
    expect: { status: 200, json: { ready: true } },
  },
  {
    name: 'model metadata',
    method: 'GET',
    path: '/v2/models/iris',
    expect: {
      status: 200,
      headers: served('iris', '1', 'primary'),
      json: {
        name: 'iris',
        versions: ['1'],
        platform: 'onnxruntime_onnx',
        parameters: { version: '1', variant: 'primary' },
      },
    },
  },
  {
    name: 'pinned version metadata',
    method: 'GET',
    path: '/v2/models/house-price/versions/1',
    expect: { status: 200, headers: served('house-price', '1', 'pinned'), json: { name: 'house-price' } },
  },
  {
    name: 'model readiness',
    method: 'GET',
    path: '/v2/models/iris/ready',
    expect: {
      status: 200,
      headers: served('iris', '1', 'primary'),
      json: { name: 'iris', version: '1', ready: true },
    },
  },
  {
    name: 'pinned version readiness',
    method: 'GET',
    path: '/v2/models/house-price/versions/1/ready',
    expect: { status: 200, json: { ready: true } },
  },
  {
    name: 'inference on the deployed version',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: json(iris),
    expect: {
      status: 200,
      headers: { ...served('iris', '1', 'primary'), 'content-type': /^application\/json/ },
      json: { model_name: 'iris', model_version: '1', parameters: { variant: 'primary' }, ...IRIS_LABELS },
    },
  },
  {
    name: 'inference on a pinned version',
    method: 'POST',
    path: '/v2/models/iris/versions/1/infer',
    headers: JSON_TYPE,
    body: json(iris),
    expect: {
      status: 200,
      headers: served('iris', '1', 'pinned'),
      json: { parameters: { variant: 'pinned' }, ...IRIS_LABELS },
    },
  },
  {
    name: 'inference with several int64 and float inputs',
    method: 'POST',
    path: '/v2/models/house-price/infer',
    headers: JSON_TYPE,
    body: json(house),
    expect: {
      status: 200,
      headers: served('house-price', '1', 'primary'),
      json: {
        model_name: 'house-price',
        outputs: [expect.objectContaining({ datatype: 'FP32', shape: [3, 1] })],
      },
    },
  },
  {
    name: 'inference selecting outputs',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: json({ ...iris, outputs: [{ name: 'label' }] }),
    expect: {
      status: 200,
      json: { outputs: [{ name: 'label', datatype: 'INT64', shape: [2], data: [0, 2] }] },
    },
  },
  {
    name: 'a query string is ignored',
    method: 'GET',
    path: '/v2/models/iris?verbose=1&x=%20y',
    expect: { status: 200, json: { name: 'iris' } },
  },
  // ---- headers ----
  {
    name: 'x-request-id is echoed (header and OIP id)',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'conformance-42' },
    body: json(iris),
    expect: { status: 200, headers: { 'x-request-id': 'conformance-42' }, json: { id: 'conformance-42' } },
  },
  {
    name: 'the body id wins over x-request-id for the OIP id',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { ...JSON_TYPE, 'x-request-id': 'header-id' },
    body: json({ id: 'body-id', ...iris }),
    expect: { status: 200, headers: { 'x-request-id': 'header-id' }, json: { id: 'body-id' } },
  },
  {
    name: 'an unusable x-request-id is replaced',
    method: 'GET',
    path: '/v2/health/live',
    headers: { 'x-request-id': 'has spaces/and slashes' },
    expect: { status: 200, headers: { 'x-request-id': /^[0-9a-f-]{36}$/ } },
  },
  {
    name: 'curl default content type is read as JSON',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: json(iris),
    expect: { status: 200, json: IRIS_LABELS },
  },
  {
    name: 'a JSON body whose strings contain & and = (form parsers must not touch it)',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: json({ id: `a=1&${'&'.repeat(1500)}b=2`, ...iris }),
    expect: { status: 200, json: { id: `a=1&${'&'.repeat(1500)}b=2` } },
  },
  {
    name: 'content type with charset',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: json(iris),
    expect: { status: 200 },
  },
  {
    name: 'no content type',
    method: 'POST',
    path: '/v2/models/iris/infer',
    body: Buffer.from(json(iris)),
    expect: { status: 200, json: IRIS_LABELS },
  },
  // ---- bytes: base64 in events, raw bytes over HTTP ----
  {
    name: 'a binary (bytes) JSON body with non-ASCII UTF-8 comes back intact',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: Buffer.from(json({ id: 'réq-ü✓-日本', ...iris }), 'utf8'),
    expect: { status: 200, json: { id: 'réq-ü✓-日本' } },
  },
  {
    name: 'bytes that are not UTF-8 JSON',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: Buffer.from([0xff, 0xfe, 0x00, 0x81, 0x7b]),
    expect: { status: 400, error: /^request body is not valid UTF-8/ },
  },
  // ---- 400 ----
  {
    name: 'invalid JSON',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { ...JSON_TYPE, 'x-request-id': 'bad-json' },
    body: '{"inputs": [',
    expect: {
      status: 400,
      error: /^request body is not valid JSON/,
      headers: { 'x-request-id': 'bad-json' },
      json: { id: 'bad-json' },
    },
  },
  {
    name: 'an empty body',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    expect: { status: 400, error: /got an empty body/ },
  },
  {
    name: 'a body that is not an object',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: '[1,2]',
    expect: { status: 400, error: /expected a JSON object with "inputs", got array/ },
  },
  {
    name: 'a JSON scalar body',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: '3',
    expect: { status: 400, error: /^request body/ },
  },
  {
    name: 'no inputs',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: json({ input: [] }),
    expect: { status: 400, error: /^inputs: expected an array of tensors, got nothing/ },
  },
  {
    name: 'a wrong shape',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: irisWith({ shape: [2, 3] }),
    expect: { status: 400, error: /^inputs\[0\]\.shape\[1\]: expected 4/ },
  },
  {
    name: 'a wrong datatype',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: irisWith({ datatype: 'FP64' }),
    expect: { status: 400, error: /^inputs\[0\]\.datatype: input "input" expects FP32, got FP64/ },
  },
  {
    name: 'a non-number element',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: irisWith({ shape: [1, 4], data: [1, 2, 'x', 4] }),
    expect: { status: 400, error: /^inputs\[0\]\.data: element 2/ },
  },
  {
    name: 'an unknown output',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: json({ ...iris, outputs: [{ name: 'zzz' }] }),
    expect: { status: 400, error: /^outputs\[0\]\.name: model "iris" has no output "zzz"/ },
  },
  {
    name: 'an invalid version',
    method: 'GET',
    path: '/v2/models/iris/versions/0',
    expect: { status: 400, error: /^version "0" is not valid/ },
  },
  {
    name: 'an invalid model name',
    method: 'GET',
    path: '/v2/models/bad%20name',
    expect: { status: 400, error: /^model name "bad name" is not valid/ },
  },
  // ---- 404 ----
  {
    name: 'an unknown model',
    method: 'POST',
    path: '/v2/models/nope/infer',
    headers: JSON_TYPE,
    body: json(iris),
    expect: { status: 404, error: /^model "nope" not found/ },
  },
  {
    name: 'an unknown version',
    method: 'POST',
    path: '/v2/models/iris/versions/9/infer',
    headers: JSON_TYPE,
    body: json(iris),
    expect: { status: 404, error: /^model "iris" has no version 9/ },
  },
  {
    name: 'an unknown route',
    method: 'GET',
    path: '/v3/whatever',
    expect: { status: 404, error: /^no route for GET \/v3\/whatever/ },
  },
  // ---- 405 ----
  {
    name: 'GET on an inference route',
    method: 'GET',
    path: '/v2/models/iris/infer',
    expect: { status: 405, headers: { allow: 'POST' }, error: /^GET is not allowed/ },
  },
  {
    name: 'DELETE on a model',
    method: 'DELETE',
    path: '/v2/models/iris',
    expect: { status: 405, headers: { allow: 'GET' } },
  },
  {
    name: 'OPTIONS that is not a CORS preflight',
    method: 'OPTIONS',
    path: '/v2/models/iris/infer',
    expect: { status: 405, headers: { allow: 'POST' } },
  },
  // ---- CORS (every target runs with CORS_ORIGINS=<CORS_ORIGIN>) ----
  {
    name: 'CORS preflight from an allowed origin',
    method: 'OPTIONS',
    path: '/v2/models/iris/infer',
    headers: {
      origin: CORS_ORIGIN,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type, x-request-id',
    },
    expect: {
      status: 204,
      headers: {
        'access-control-allow-origin': CORS_ORIGIN,
        'access-control-allow-methods': /\bPOST\b/,
        'access-control-allow-headers': 'content-type, x-request-id',
        'access-control-max-age': '600',
      },
    },
  },
  {
    name: 'CORS preflight from an origin not in CORS_ORIGINS',
    method: 'OPTIONS',
    path: '/v2/models/iris/infer',
    headers: { origin: 'https://other.example.test', 'access-control-request-method': 'POST' },
    expect: {
      status: 403,
      error: /^origin "https:\/\/other\.example\.test" is not allowed/,
      absentHeaders: ['access-control-allow-origin'],
    },
  },
  {
    name: 'a cross-origin inference exposes the model headers to the page',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { ...JSON_TYPE, origin: CORS_ORIGIN },
    body: json(iris),
    expect: {
      status: 200,
      headers: {
        'access-control-allow-origin': CORS_ORIGIN,
        'access-control-expose-headers': /x-model-variant/,
        vary: /Origin/,
      },
    },
  },
  {
    name: 'a cross-origin error is readable by the page',
    method: 'GET',
    path: '/v2/models/nope',
    headers: { origin: CORS_ORIGIN },
    expect: { status: 404, headers: { 'access-control-allow-origin': CORS_ORIGIN } },
  },
  {
    name: 'no CORS headers for an origin that is not listed',
    method: 'GET',
    path: '/v2/health/live',
    headers: { origin: 'https://other.example.test' },
    expect: { status: 200, absentHeaders: ['access-control-allow-origin'] },
  },
  // ---- 413 / 415 ----
  {
    name: 'a body over MAX_BODY_BYTES',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: JSON_TYPE,
    body: json({ ...iris, padding: 'x'.repeat(MAX_BODY_BYTES) }),
    expect: { status: 413, error: /more than the limit of 65536/ },
  },
  {
    name: 'a media type that is not JSON',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { 'content-type': 'text/csv' },
    body: '5.1,3.5,1.4,0.2',
    expect: { status: 415, error: /^content-type text\/csv is not supported/ },
  },
  {
    name: 'JSON sent as application/octet-stream',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: { 'content-type': 'application/octet-stream' },
    body: Buffer.from(json(iris)),
    expect: { status: 415, error: /^content-type application\/octet-stream is not supported/ },
  },
  // ---- other payload formats (issue 4): query strings and a colon in the path reach the core ----
  {
    name: 'MLflow scoring with ?model=',
    method: 'POST',
    path: '/invocations?model=iris',
    headers: JSON_TYPE,
    body: json({
      dataframe_split: {
        columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
        data: [irisInput.data.slice(0, 4), irisInput.data.slice(4, 8)],
      },
    }),
    expect: {
      status: 200,
      headers: served('iris', '1', 'primary'),
      json: { predictions: expect.objectContaining({ label: [0, 2] }) },
    },
  },
  {
    name: 'TF-Serving predict on a pinned version',
    method: 'POST',
    path: '/v1/models/iris/versions/1:predict',
    headers: JSON_TYPE,
    body: json({ instances: [irisInput.data.slice(0, 4), irisInput.data.slice(4, 8)] }),
    expect: {
      status: 200,
      headers: served('iris', '1', 'pinned'),
      json: { predictions: [expect.objectContaining({ label: 0 }), expect.objectContaining({ label: 2 })] },
    },
  },
  {
    name: 'a malformed TF-Serving body',
    method: 'POST',
    path: '/v1/models/iris:predict',
    headers: JSON_TYPE,
    body: json({ instances: [[1, 2, 3]] }),
    expect: { status: 400, error: /^instances\.shape\[1\]: expected 4/ },
  },
  // ---- binary tensor data extension: the bytes must reach the core unchanged ----
  {
    name: 'binary tensor input (Inference-Header-Content-Length)',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(BINARY_HEADER.byteLength),
    },
    body: Buffer.concat([BINARY_HEADER, Buffer.from(Float32Array.from(irisInput.data as number[]).buffer)]),
    expect: { status: 200, headers: served('iris', '1', 'primary'), json: IRIS_LABELS },
  },
  {
    name: 'binary tensor data shorter than its binary_data_size',
    method: 'POST',
    path: '/v2/models/iris/infer',
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(BINARY_HEADER.byteLength),
    },
    body: Buffer.concat([BINARY_HEADER, Buffer.alloc(28)]),
    expect: { status: 400, error: /^inputs\[0\]\.parameters\.binary_data_size: 32 bytes run past the end/ },
  },
];
