import { parseInferRequest } from '../../shared/protocol/oip';
import { parseOipJson } from '../../shared/protocol/oip-fast';
import type { LoadedModel } from '../../shared/serving/model-cache';
import type { Datatype } from '../../shared/tensor/datatypes';
import { NumericData } from '../../shared/tensor/numeric-data';
import type { TensorSpec } from '../../shared/tensor/tensor';
import { seededRandom } from '../support/random';

/** Replaces NumericData by the plain arrays it stands for, to compare with JSON.parse. */
function plain(value: unknown): unknown {
  if (value instanceof NumericData) return value.toArray();
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const random = seededRandom(20261127);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;

function numberText(): string {
  const kind = Math.floor(random() * 12);
  switch (kind) {
    case 0:
      return String(Math.floor(random() * 2000) - 1000);
    case 1:
      return String(random()); // 16-17 significant digits
    case 2:
      return String(Math.fround(random() * 100 - 50)); // a float32 printed as a double
    case 3:
      return pick([
        '0',
        '-0',
        '-0.0',
        '0e5',
        '1e400',
        '-1e400',
        '1e-400',
        '5e-324',
        '1.7976931348623157e308',
      ]);
    case 4:
      return `${Math.floor(random() * 1e6)}e${Math.floor(random() * 60) - 30}`;
    case 5:
      return `${(random() * 10).toFixed(Math.floor(random() * 25))}`;
    case 6: {
      // Midpoint of two adjacent float32s: the float32 rounding depends on the last digits.
      const f = Math.fround(random() * 1000);
      const next = new Float32Array([f]);
      new Uint32Array(next.buffer)[0] = (new Uint32Array(next.buffer)[0] as number) + 1;
      return String((f + (next[0] as number)) / 2);
    }
    case 7:
      return `${random() < 0.5 ? '-' : ''}${Math.floor(random() * 1e9)}.${String(Math.floor(random() * 1e9)).padStart(9, '0')}${Math.floor(random() * 1e9)}E+${Math.floor(random() * 5)}`;
    case 8:
      return '9007199254740993';
    case 9:
      return `0.${'0'.repeat(Math.floor(random() * 30))}${Math.floor(random() * 1e12)}`;
    case 10:
      return String(2 ** Math.floor(random() * 70));
    default:
      return (random() * 1e-5).toExponential(Math.floor(random() * 20));
  }
}

function dataText(shape: number[], nested: boolean): string {
  const count = shape.reduce((a, b) => a * b, 1);
  if (!nested) return `[${Array.from({ length: count }, numberText).join(', ')}]`;
  const build = (depth: number): string => {
    const n = shape[depth] ?? 0;
    if (depth === shape.length - 1) return `[${Array.from({ length: n }, numberText).join(',')}]`;
    return `[${Array.from({ length: n }, () => build(depth + 1)).join(',\n ')}]`;
  };
  return shape.length === 0 ? `[${numberText()}]` : build(0);
}

describe('parseOipJson gives what JSON.parse gives', () => {
  it('on generated OIP bodies with numeric data', () => {
    let fast = 0;
    for (let i = 0; i < 400; i++) {
      const shape = Array.from({ length: 1 + Math.floor(random() * 3) }, () => 1 + Math.floor(random() * 4));
      const text = `{"id": ${JSON.stringify(`r\\u00e9q-${i}\n`)}, "inputs": [{"name": "x", "datatype": "FP32", "shape": ${JSON.stringify(shape)}, "data": ${dataText(shape, random() < 0.5)}, "parameters": {"a": [true, false, null, {"b": -1.5e3}]}}], "outputs": [], "note": "${i % 2 ? 'café ☕ \\"ß\\"' : 'x'}"}`;
      const parsed = parseOipJson(text);
      expect(parsed).not.toBeUndefined();
      expect(plain(parsed)).toEqual(JSON.parse(text));
      const data = (parsed as { inputs: { data: unknown }[] }).inputs[0]?.data;
      expect(data).toBeInstanceOf(NumericData);
      const exact = Float32Array.from(JSON.parse(text).inputs[0].data.flat(10));
      const fresh = parseOipJson(text) as { inputs: { data: NumericData }[] };
      expect(fresh.inputs[0]?.data.float32()).toEqual(exact);
      fast++;
    }
    expect(fast).toBe(400);
  });

  it('keeps -0, infinities from overflow and the exact double of long mantissas', () => {
    const text =
      '{"inputs":[{"data":[-0, 1e400, 0.1000000000000000055511151231257827, 9007199254740993, 123456789012345678901234567890]}]}';
    const data = (parseOipJson(text) as { inputs: { data: NumericData }[] }).inputs[0]?.data;
    const values = data?.exact() ?? new Float64Array();
    expect(Object.is(values[0], -0)).toBe(true);
    expect([...values]).toEqual(JSON.parse(text).inputs[0].data);
  });

  it('never accepts what JSON.parse rejects, and declines unusual data', () => {
    const valid = '{"inputs":[{"name":"x","datatype":"FP32","shape":[2],"data":[1.5,-2e3]}],"id":"a\\"b"}';
    const broken = new Set<string>();
    for (let cut = 0; cut < valid.length; cut++) broken.add(valid.slice(0, cut));
    for (const [from, to] of [
      ['1.5', '01.5'],
      ['1.5', '1.'],
      ['1.5', '.5'],
      ['1.5', '+1.5'],
      ['-2e3', '-2e'],
      ['-2e3', '-'],
      ['-2e3', '-2e3,'],
      ['"x"', "'x'"],
      ['"a\\"b"', '"a\\qb"'],
      ['"a\\"b"', '"a\tb"'],
      ['[2]', '[2,]'],
      ['}]', '},]'],
      ['1.5', 'NaN'],
      ['1.5', 'Infinity'],
      ['1.5', 'tru'],
    ]) {
      broken.add(valid.replace(from as string, to as string));
    }
    broken.add(`${valid} x`);
    broken.add(`\ufeff${valid}`);
    for (const text of broken) {
      let jsonOk = true;
      try {
        JSON.parse(text);
      } catch {
        jsonOk = false;
      }
      const fast = parseOipJson(text);
      if (!jsonOk) expect({ text, fast }).toEqual({ text, fast: undefined });
      else if (fast !== undefined) expect(plain(fast)).toEqual(JSON.parse(text));
    }
    const lone = '{"id":"\ud800","inputs":[{"data":[1]}]}';
    expect(plain(parseOipJson(lone) ?? JSON.parse(lone))).toEqual(JSON.parse(lone));
    for (const unusual of [
      '{"inputs":[{"data":[]}]}',
      '{"inputs":[{"data":[[1,2],[3]]}]}',
      '{"inputs":[{"data":[[1,2],3]}]}',
      '{"inputs":[{"data":[1,[2]]}]}',
      '{"inputs":[{"data":["1"]}]}',
      '{"inputs":[{"data":[true]}]}',
      '{"__proto__":{"inputs":1}}',
    ]) {
      expect(parseOipJson(unusual)).toBeUndefined();
    }
    expect(parseOipJson(`{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`)).toBeUndefined();
  });
});

describe('parseInferRequest gives identical results and errors on both paths', () => {
  const inputs: TensorSpec[] = (
    [
      'FP32',
      'FP64',
      'INT8',
      'INT16',
      'INT32',
      'UINT8',
      'UINT16',
      'UINT32',
      'INT64',
      'UINT64',
      'BOOL',
    ] as Datatype[]
  ).map((datatype) => ({ name: datatype.toLowerCase(), datatype, shape: [-1, 3] }));
  // parseInferRequest reads only names and signatures: a plain object stands in for a session.
  const modelWith = (specs: TensorSpec[]) =>
    ({
      name: 'm',
      version: 1,
      inputs: new Map(specs.map((spec) => [spec.name, spec])),
      outputs: new Map([['y', { name: 'y', datatype: 'FP32', shape: [-1] }]]),
    }) as unknown as LoadedModel;
  const limits = { maxTensorElements: 1000 };

  function outcome(model: LoadedModel, body: () => unknown) {
    try {
      const call = parseInferRequest(body(), model, limits);
      return { ok: [...call.inputs.values()].map((input) => [input.name, input.shape, input.data]) };
    } catch (err) {
      return { error: `${(err as Error).name}: ${(err as Error).message}` };
    }
  }

  function value(datatype: Datatype): string {
    const r = random();
    if (r < 0.05) return numberText();
    if (r < 0.08) return pick(['"7"', 'true', '3.5', '-1', '300', '70000', '5e9', '-3e10', '1e20']);
    switch (datatype) {
      case 'FP32':
      case 'FP64':
        return numberText();
      case 'BOOL':
        return pick(['true', 'false']);
      case 'UINT8':
      case 'UINT16':
      case 'UINT32':
      case 'UINT64':
        return String(Math.floor(random() * 200));
      default:
        return String(Math.floor(random() * 200) - 100);
    }
  }

  it('on generated valid and invalid requests', () => {
    let errors = 0;
    for (let i = 0; i < 600; i++) {
      const chosen = inputs.filter(() => random() < 0.25);
      if (chosen.length === 0) chosen.push(pick(inputs));
      const model = modelWith(chosen);
      const tensors = chosen.map((spec) => {
        const rows = 1 + Math.floor(random() * 3);
        const shape = random() < 0.1 ? [rows, 2] : [rows, 3];
        const declared = random() < 0.05 ? [rows + 1, shape[1]] : shape;
        const values = Array.from({ length: rows * 3 }, () => value(spec.datatype));
        if (random() < 0.05) values.pop();
        const nested = random() < 0.5;
        const data = nested
          ? `[${Array.from({ length: rows }, (_, r) => `[${values.slice(r * 3, r * 3 + 3).join(',')}]`).join(',')}]`
          : `[${values.join(',')}]`;
        const datatype = random() < 0.03 ? 'FP16' : spec.datatype;
        return `{"name":"${spec.name}","datatype":"${datatype}","shape":${JSON.stringify(declared)},"data":${data}}`;
      });
      const text = `{"inputs":[${tensors.join(',')}]}`;
      const generic = outcome(model, () => JSON.parse(text));
      const fast = outcome(model, () => parseOipJson(text) ?? JSON.parse(text));
      expect({ text, fast }).toEqual({ text, fast: generic });
      if ('error' in generic) errors++;
    }
    // Both outcomes are exercised.
    expect(errors).toBeGreaterThan(100);
    expect(errors).toBeLessThan(500);
  });
});
