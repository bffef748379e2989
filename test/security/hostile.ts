/**
 * Seeded generator of hostile or malformed requests for the fuzz tests. Every request it makes is
 * wrong in at least one way a client can be wrong, so each must get a 4xx with a message.
 */
import { KEYS } from './support';

export interface Hostile {
  kind: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export const FUZZ_LIMITS = { maxBodyBytes: 16 * 1024 };
const INFER = '/v2/models/iris/infer';
const VALID_TENSOR = {
  name: 'input',
  datatype: 'FP32',
  shape: [2, 4],
  data: [5.1, 3.5, 1.4, 0.2, 6.7, 3, 5.2, 2.3],
};

export function hostileRequests(random: () => number, count: number): Hostile[] {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const key = { 'content-type': 'application/json', 'x-api-key': KEYS.predict };
  const json = (value: unknown) => Buffer.from(JSON.stringify(value));

  const randomString = (max: number) => {
    const alphabet =
      'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"\\/{}[]:, é€😀\u0000\u001f';
    return Array.from({ length: int(max) }, () => alphabet[int(alphabet.length)]).join('');
  };
  const randomJson = (depth: number): unknown => {
    const roll = int(depth > 4 ? 6 : 9);
    switch (roll) {
      case 0:
        return null;
      case 1:
        return random() < 0.5;
      case 2:
        return (random() - 0.5) * 10 ** int(30);
      case 3:
        return int(2 ** 31);
      case 4:
      case 5:
        return randomString(20);
      case 6:
      case 7:
        return Array.from({ length: int(6) }, () => randomJson(depth + 1));
      default: {
        const keys = [
          'inputs',
          'outputs',
          'id',
          'parameters',
          'name',
          'shape',
          'data',
          'datatype',
          'x',
          randomString(8),
        ];
        return Object.fromEntries(Array.from({ length: int(5) }, () => [pick(keys), randomJson(depth + 1)]));
      }
    }
  };
  const wrongValue = () =>
    pick<unknown>(['x', 'NaN', 'Infinity', null, true, {}, [], [1, 2], '1e400', 'inf', { $gt: 1 }]);

  /** A valid iris request with exactly one thing broken. */
  const mutated = (): unknown => {
    const tensor: Record<string, unknown> = structuredClone(VALID_TENSOR);
    const body: Record<string, unknown> = { inputs: [tensor] };
    switch (int(14)) {
      case 0:
        tensor['datatype'] = pick(['FP64', 'INT64', 'INT32', 'BOOL', 'BYTES', 'FP16', 'fp32', '', 42, null]);
        break;
      case 1:
        tensor['shape'] = pick([
          [2, 3],
          [8],
          [2, 4, 1],
          [],
          [-1, 4],
          [2.5, 4],
          ['2', 4],
          [1e12, 4],
          null,
          'x',
        ]);
        break;
      case 2: {
        const data = tensor['data'] as unknown[];
        data[int(data.length)] = wrongValue();
        break;
      }
      case 3:
        tensor['data'] = (tensor['data'] as unknown[]).slice(0, int(8));
        break;
      case 4:
        tensor['name'] = pick(['', 'Input', 'x', 42, null, randomString(30)]);
        break;
      case 5:
        delete tensor[pick(['name', 'datatype', 'shape', 'data'])];
        break;
      case 6:
        body['inputs'] = [tensor, structuredClone(tensor)];
        break;
      case 7:
        body['id'] = pick([1, null, true, {}, []]);
        break;
      case 8:
        body['outputs'] = pick([
          [{ name: 'nope' }],
          [{}],
          'label',
          [{ name: 'label' }, { name: 'label' }],
          {},
        ]);
        break;
      case 9:
        body['inputs'] = pick([{}, 'input', null, 3, [null], [[1, 2]], [[]]]);
        break;
      case 10:
        tensor['data'] = [
          [5.1, 3.5, 1.4, 0.2],
          [6.7, 3, 5.2],
        ];
        break;
      case 11:
        tensor['data'] = [
          [
            [5.1, 3.5],
            [1.4, 0.2],
          ],
          [
            [6.7, 3],
            [5.2, 2.3],
          ],
        ];
        break;
      case 12:
        tensor['data'] = pick(['5.1,3.5', { 0: 1 }, null, 7]);
        break;
      default:
        tensor['data'] = (tensor['data'] as unknown[]).map((v) => (random() < 0.2 ? wrongValue() : v));
        if ((tensor['data'] as unknown[]).every((v) => typeof v === 'number'))
          (tensor['data'] as unknown[])[0] = 'x';
    }
    return body;
  };

  const makers: Array<() => Hostile> = [
    () => ({ kind: 'random-json', method: 'POST', path: INFER, headers: key, body: json(randomJson(0)) }),
    () => ({ kind: 'wrong-type-or-shape', method: 'POST', path: INFER, headers: key, body: json(mutated()) }),
    () => ({ kind: 'wrong-type-or-shape', method: 'POST', path: INFER, headers: key, body: json(mutated()) }),
    () => ({ kind: 'wrong-type-or-shape', method: 'POST', path: INFER, headers: key, body: json(mutated()) }),
    () => {
      // Over the body limit: padding inside a valid-looking request, up to 4x the limit.
      const size = FUZZ_LIMITS.maxBodyBytes + 1 + int(FUZZ_LIMITS.maxBodyBytes * 3);
      const pad = 'x'.repeat(size);
      return {
        kind: 'huge',
        method: 'POST',
        path: INFER,
        headers: key,
        body: json({ inputs: [VALID_TENSOR], pad }),
      };
    },
    () => {
      const depth = 65 + int(random() < 0.9 ? 200 : 5_000);
      const open = pick(['[', '{"a":']);
      const text = `{"inputs":${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}}`;
      return { kind: 'deep', method: 'POST', path: INFER, headers: key, body: Buffer.from(text) };
    },
    () => {
      const bytes = Buffer.from(JSON.stringify({ inputs: [VALID_TENSOR] }));
      const bad = pick([
        [0xff],
        [0xc3],
        [0xed, 0xa0, 0x80],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
        [0xe2, 0x82],
        [0xc0, 0xaf],
      ]);
      const at = int(bytes.length);
      return {
        kind: 'bad-encoding',
        method: 'POST',
        path: INFER,
        headers: key,
        body: Buffer.concat([bytes.subarray(0, at), Buffer.from(bad), bytes.subarray(at)]),
      };
    },
    () => {
      const name = pick(['__proto__', 'constructor', 'prototype', '\\u005f_proto__', '__pro\\u0074o__']);
      const where = int(3);
      const evil = `"${name}":{"polluted":true,"isAdmin":true}`;
      const tensor = JSON.stringify(VALID_TENSOR);
      const text =
        where === 0
          ? `{${evil},"inputs":[${tensor}]}`
          : where === 1
            ? `{"inputs":[{${evil},${tensor.slice(1)}]}`
            : `{"inputs":[${tensor}],"parameters":{"x":{${evil}}}}`;
      return { kind: 'pollution', method: 'POST', path: INFER, headers: key, body: Buffer.from(text) };
    },
    () => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const b64 = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256))).toString('base64url');
      switch (int(9)) {
        case 0:
          break;
        case 1:
          headers['x-api-key'] = b64(1 + int(40));
          break;
        case 2:
          headers['authorization'] = `Bearer ${b64(10)}.${b64(40)}.${b64(60)}`;
          break;
        case 3:
          headers['authorization'] = pick([
            'Basic dXNlcjpwYXNz',
            'Bearer',
            'Token abc',
            'bearer  ',
            'ApiKey',
          ]);
          break;
        case 4:
          headers['x-api-key'] = KEYS.revoked;
          break;
        case 5:
          headers['x-api-key'] = KEYS.feedback;
          break;
        case 6:
          headers['authorization'] =
            `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${b64(30)}.`;
          break;
        case 7:
          headers['x-api-key'] = KEYS.predict;
          headers['authorization'] = `Bearer ${KEYS.predict}`;
          break;
        default: {
          // Valid key, pinned version: needs admin.
          headers['x-api-key'] = KEYS.predict;
          return {
            kind: 'bad-token',
            method: 'POST',
            path: '/v2/models/iris/versions/1/infer',
            headers,
            body: json({ inputs: [VALID_TENSOR] }),
          };
        }
      }
      return {
        kind: 'bad-token',
        method: 'POST',
        path: INFER,
        headers,
        body: json({ inputs: [VALID_TENSOR] }),
      };
    },
    () => {
      const segment = pick([
        '..',
        '%2e%2e',
        '%zz',
        'a'.repeat(200),
        '-x',
        'nope',
        'iris%00',
        '%F0%28%8C%BC',
        '.hidden',
        'iris%2Finfer',
      ]);
      const path = pick([
        `/v2/models/${segment}/infer`,
        `/v2/models/iris/versions/${pick(['0', '-1', '1.5', 'x', '99999999999', '01', '9'])}/infer`,
        `/v2/${segment}`,
        `/${segment}`,
        '/v2/models/iris/infer/extra',
        '/v3/models/iris/infer',
      ]);
      return {
        kind: 'bad-path',
        method: 'POST',
        path,
        headers: { ...key, 'x-api-key': KEYS.admin },
        body: json({ inputs: [VALID_TENSOR] }),
      };
    },
    () => ({
      kind: 'bad-method',
      method: pick(['GET', 'PUT', 'DELETE', 'PATCH']),
      path: INFER,
      headers: key,
      ...(random() < 0.5 ? { body: json({ inputs: [VALID_TENSOR] }) } : {}),
    }),
    () => ({
      kind: 'bad-media-type',
      method: 'POST',
      path: INFER,
      headers: {
        ...key,
        'content-type': pick([
          'application/xml',
          'multipart/form-data; boundary=x',
          'image/png',
          'application/json; charset=utf-16',
          'text/html',
        ]),
      },
      body: json({ inputs: [VALID_TENSOR] }),
    }),
    () => {
      // Issue 13: a zero next to a huge dimension, and declared sizes far beyond the data.
      const shape = pick([
        [0, 1e300],
        [1e300, 0],
        [2 ** 53, 4],
        [2 ** 31, 4],
        [0, 2 ** 40],
        [4096, 4],
        [1e12, 0],
      ]);
      const tensor = { ...VALID_TENSOR, shape, data: pick([[], [1, 2, 3, 4]]) };
      return {
        kind: 'huge-shape',
        method: 'POST',
        path: INFER,
        headers: key,
        body: json({ inputs: [tensor] }),
      };
    },
    () => {
      // Binary extension: NaN or ±Infinity in FP32 data, or sizes that do not add up.
      const header = Buffer.from(
        JSON.stringify({
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }],
        }),
      );
      const values = [5.1, 3.5, 1.4, 0.2];
      values[int(4)] = pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
      const data = Buffer.from(new Float32Array(values).buffer);
      const body =
        random() < 0.8 ? Buffer.concat([header, data]) : Buffer.concat([header, data.subarray(0, int(16))]);
      return {
        kind: 'binary-nonfinite',
        method: 'POST',
        path: INFER,
        headers: { 'x-api-key': KEYS.predict, 'inference-header-content-length': String(header.byteLength) },
        body,
      };
    },
    () => {
      // MLflow: duplicate or unknown columns (many of them), and null cells.
      const columns = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
      const many = Array.from({ length: 200 + int(2000) }, (_, i) => `c${i}`);
      const body = pick([
        { dataframe_split: { columns: [...columns, 'sepal_length'], data: [[1, 2, 3, 4, 5]] } },
        { dataframe_split: { columns: many, data: [many.map(() => 0)] } },
        { dataframe_split: { columns, data: [[5.1, null, 1.4, 0.2]] } },
        { dataframe_records: [Object.fromEntries(many.map((c) => [c, 0]))] },
        { instances: [{ sepal_length: null, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }] },
      ]);
      return {
        kind: 'mlflow-columns',
        method: 'POST',
        path: '/invocations',
        headers: { ...key, 'x-model-name': 'iris' },
        body: json(body),
      };
    },
    () => {
      const text = pick([
        '',
        '{',
        '{"inputs": [',
        'null',
        '[]',
        '"inputs"',
        '{"inputs":[{"name":"input","datatype":"FP32","shape":[2,4],"data":[NaN,1,2,3,4,5,6,7]}]}',
        '{"inputs":[{"name":"input","datatype":"FP32","shape":[2,4],"data":[1e400,1,2,3,4,5,6,7]}]}',
        '{"inputs":[{"name":"input","datatype":"FP32","shape":[2,4],"data":[Infinity,1,2,3,4,5,6,7]}]}',
        "{'inputs': []}",
        '\ufeff\ufeff{}',
        randomString(200),
      ]);
      return { kind: 'bad-json', method: 'POST', path: INFER, headers: key, body: Buffer.from(text) };
    },
  ];
  return Array.from({ length: count }, () => pick(makers)());
}

/** Whether a response is what hostile input must get: a 4xx with a JSON error message. */
export function problemWith(status: number, body: string): string | undefined {
  if (status < 400 || status > 499) return `status ${status}`;
  try {
    const error = (JSON.parse(body) as { error?: unknown }).error;
    return typeof error === 'string' && error.length > 0 ? undefined : 'no error message';
  } catch {
    return `body is not JSON: ${body.slice(0, 80)}`;
  }
}
