import { seededRandom } from '../../scripts/lib/random';
import { bodyBytes, checkJsonDepth, checkRows, inspectJson, opensAtMost } from '../../shared/security/body';
import { createLogger } from '../../shared/telemetry/log';
import { json, postJson, removeTempDirs, sampleApp } from '../support/fixtures';

afterAll(removeTempDirs);

const tensor = (over: Record<string, unknown> = {}) => ({
  name: 'input',
  datatype: 'FP32',
  shape: [1, 4],
  data: [5.1, 3.5, 1.4, 0.2],
  ...over,
});

async function send(body: string | Uint8Array, headers: Record<string, string> = {}, overrides = {}) {
  const { app } = await sampleApp(overrides);
  const response = await app.handle({ ...postJson('/v2/models/iris/infer', '', headers), body });
  return { status: response.status, error: json(response)['error'] as string | undefined };
}

describe('body size without a counting pass', () => {
  it('is over the limit exactly when the UTF-8 byte count is, and then exact', () => {
    const random = seededRandom(21);
    // ASCII, 2-byte, 3-byte and 4-byte (surrogate pair) characters.
    const alphabet = ['a', '{', 'é', 'ж', '€', '✓', '😀', '𝄞'];
    for (let i = 0; i < 2000; i++) {
      let text = '';
      const length = Math.floor(random() * 40);
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)];
      const bytes = Buffer.byteLength(text);
      for (const limit of [0, 1, bytes - 1, bytes, bytes + 1, text.length * 3, text.length * 3 - 1, 200]) {
        if (limit < 0) continue;
        const size = bodyBytes(text, limit);
        expect(size > limit).toBe(bytes > limit);
        if (size > limit) expect(size).toBe(bytes);
        expect(bodyBytes(Buffer.from(text), limit)).toBe(bytes);
      }
    }
  });

  it('names the exact byte count of a body over the limit', async () => {
    const body = JSON.stringify({ inputs: [tensor({ name: '€'.repeat(40) })] });
    const limit = Buffer.byteLength(body) - 1;
    expect(body.length * 3).toBeGreaterThan(limit);
    expect(await send(body, {}, { maxBodyBytes: limit })).toEqual({
      status: 413,
      error: `request body is ${limit + 1} bytes, more than the limit of ${limit}`,
    });
  });
});

describe('depth check shortcut', () => {
  /** Nesting depth outside strings, the plain way: the reference for the shortcut. */
  const depthOf = (text: string) => {
    let depth = 0;
    let max = 0;
    let inString = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '[' || c === '{') max = Math.max(max, ++depth);
      else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
    }
    return max;
  };

  it('never lets a body through that nests deeper than the limit', () => {
    const random = seededRandom(7);
    const parts = ['[', ']', '{', '}', '"a[{"', '"\\"["', '1', ',', ':', '"k"'];
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const length = Math.floor(random() * 60);
      for (let j = 0; j < length; j++) text += parts[Math.floor(random() * parts.length)];
      for (const limit of [1, 2, 3, 5, 8]) {
        const tooDeep = depthOf(text) > limit;
        if (opensAtMost(text, limit)) expect(tooDeep).toBe(false);
        let threw = false;
        try {
          checkJsonDepth(text, limit);
        } catch {
          threw = true;
        }
        expect(threw).toBe(tooDeep);
      }
    }
  });
});

describe('hostile request bodies', () => {
  it('refuses bytes that are not UTF-8 with 400', async () => {
    const valid = Buffer.from(JSON.stringify({ inputs: [tensor()] }));
    expect((await send(valid)).status).toBe(200);
    for (const bad of [
      Buffer.from([0x7b, 0xff, 0x7d]),
      Buffer.from([0x7b, 0x22, 0xc3, 0x22, 0x7d]),
      Buffer.from([0xed, 0xa0, 0x80]),
    ]) {
      expect(await send(bad)).toEqual({ status: 400, error: 'request body is not valid UTF-8' });
    }
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH, however deep, without overflowing the stack', async () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    expect(await send(`{"inputs":${deep(100)}}`)).toEqual({
      status: 400,
      error: `request body: inputs${'[0]'.repeat(63)} is nested more than 64 levels deep`,
    });
    const result = await send(`{"a":${deep(500_000)}}`, {}, { maxBodyBytes: 2 * 1024 * 1024 });
    expect(result.status).toBe(400);
    expect(() => inspectJson(JSON.parse(deep(1_000_000)), 64)).toThrow('nested more than 64 levels');
  });

  it('refuses prototype keys anywhere, however they are spelled, and leaves Object.prototype alone', async () => {
    for (const body of [
      '{"__proto__":{"polluted":true},"inputs":[]}',
      '{"\\u005f_proto__":{"polluted":true},"inputs":[]}',
      `{"inputs":[${JSON.stringify(tensor())}],"parameters":{"constructor":{"prototype":{"polluted":true}}}}`,
    ]) {
      const result = await send(body);
      expect(result.status).toBe(400);
      expect(result.error).toMatch(
        /^request body: key "(__proto__|constructor)" in (the top level|parameters) is not allowed$/,
      );
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses more rows than MAX_BATCH_ROWS, in OIP and in the other payload shapes', async () => {
    const result = await send(
      JSON.stringify({ inputs: [tensor({ shape: [3, 4], data: new Array(12).fill(1) })] }),
      {},
      { maxBatchRows: 2 },
    );
    expect(result).toEqual({
      status: 400,
      error: 'inputs[0].shape[0]: 3 rows, more than the limit of 2 per request; split the batch',
    });
    expect(() => checkRows({ dataframe_records: [{}, {}, {}] }, 2)).toThrow('dataframe_records: 3 rows');
    expect(() => checkRows({ dataframe_split: { data: [[1], [2], [3]] } }, 2)).toThrow(
      'dataframe_split.data: 3 rows',
    );
    expect(() => checkRows({ instances: [1, 2, 3] }, 2)).toThrow('instances: 3 rows');
    expect(() => checkRows({ inputs: { x: [1, 2, 3] } }, 2)).toThrow('inputs.x: 3 rows');
    expect(() => checkRows({ inputs: [[1], [2], [3]] }, 2)).toThrow('inputs: 3 rows');
    expect(() => checkRows({ instances: [1, 2] }, 2)).not.toThrow();
  });

  it('has one policy for NaN and Infinity: there are none (JSON cannot carry them; strings and overflow are refused)', async () => {
    const nan = await send(JSON.stringify({ inputs: [tensor({ data: ['NaN', 1, 2, 3] })] }));
    expect(nan).toEqual({
      status: 400,
      error: 'inputs[0].data: element 0 (row-major) is "NaN", expected a number for FP32',
    });
    expect(
      (await send('{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[NaN,1,2,3]}]}')).status,
    ).toBe(400);
    expect(
      await send('{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1e400,1,2,3]}]}'),
    ).toEqual({
      status: 400,
      error: 'request body: inputs[0].data[0] is a number too large for a double',
    });
    expect(await send(JSON.stringify({ inputs: [tensor({ data: [1e39, 1, 2, 3] })] }))).toEqual({
      status: 400,
      error:
        'inputs[0].data: element 0 (row-major) is 1e+39, expected a number within the FP32 range for FP32',
    });
  });

  it('refuses charsets other than UTF-8 and non-JSON media types with 415', async () => {
    const body = JSON.stringify({ inputs: [tensor()] });
    expect((await send(body, { 'content-type': 'application/json; charset=utf-8' })).status).toBe(200);
    expect(await send(body, { 'content-type': 'application/json; charset=latin1' })).toEqual({
      status: 415,
      error: 'charset latin1 is not supported; send UTF-8 JSON',
    });
    expect((await send(body, { 'content-type': 'multipart/form-data; boundary=x' })).status).toBe(415);
  });
});

describe('logs', () => {
  it('never write credentials or raw inputs, even when a caller passes them', () => {
    const lines: string[] = [];
    const log = createLogger('debug', (line) => lines.push(line));
    log.error('failed', {
      authorization: 'Bearer eyJhbGciOi',
      headers: { 'x-api-key': 'k-123', 'content-type': 'application/json' },
      body: '{"inputs":[1,2,3]}',
      requestId: 'r1',
    });
    const line = JSON.parse(lines[0] ?? '{}');
    expect(line).toMatchObject({
      authorization: '[redacted]',
      headers: { 'x-api-key': '[redacted]', 'content-type': 'application/json' },
      body: '[redacted]',
      requestId: 'r1',
    });
    expect(lines[0]).not.toContain('k-123');
  });
});
