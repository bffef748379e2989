import { BadRequestError } from '../../shared/errors';
import { checkShape, decodeTensorData, encodeTensorData, parseShape } from '../../shared/tensor/tensor';

describe('decodeTensorData', () => {
  it('reads flat and nested row-major data into the same typed array', () => {
    const flat = decodeTensorData('FP32', [2, 2], [1, 2, 3, 4], 'inputs[0]');
    const nested = decodeTensorData(
      'FP32',
      [2, 2],
      [
        [1, 2],
        [3, 4],
      ],
      'inputs[0]',
    );
    expect(flat).toBeInstanceOf(Float32Array);
    expect(Array.from(nested as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(flat as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  it.each([
    ['FP64', [0.5, -1], Float64Array],
    ['INT32', [1, -2], Int32Array],
    ['INT8', [127, -128], Int8Array],
    ['UINT8', [0, 255], Uint8Array],
    ['BOOL', [true, false], Uint8Array],
  ] as const)('decodes %s', (datatype, data, type) => {
    const out = decodeTensorData(datatype, [2], [...data], 'x');
    expect(out).toBeInstanceOf(type);
    expect(Array.from(out as ArrayLike<number>)).toEqual(
      data.map((v) => (typeof v === 'boolean' ? Number(v) : v)),
    );
  });

  it('decodes INT64 from JSON numbers and decimal strings into BigInt64Array', () => {
    const out = decodeTensorData('INT64', [3], [1, '-9007199254740993', 42], 'x') as BigInt64Array;
    expect(out).toBeInstanceOf(BigInt64Array);
    expect(Array.from(out)).toEqual([1n, -9007199254740993n, 42n]);
  });

  it.each([
    ['INT32', [1.5], /element 0 \(row-major\) is 1.5, expected an integer/],
    ['INT8', [128], /element 0 \(row-major\) is 128, expected an integer in \[-128, 127\]/],
    ['INT64', [2 ** 60], /expected an integer/],
    ['FP32', ['1'], /element 0 \(row-major\) is "1", expected a number for FP32/],
    ['BOOL', [1], /expected true or false/],
  ] as const)('refuses %s data that would be silently converted', (datatype, data, message) => {
    expect(() => decodeTensorData(datatype, [1], [...data], 'inputs[0]')).toThrow(message);
  });

  it('names the nesting level whose length disagrees with the shape', () => {
    expect(() => decodeTensorData('FP32', [2, 2], [[1, 2], [3]], 'inputs[1]')).toThrow(
      'inputs[1].data[1]: expected 2 elements at depth 1 for shape [2,2], got 1',
    );
  });

  it('reports the element count for flat data of the wrong length', () => {
    expect(() => decodeTensorData('FP32', [2, 3], [1, 2, 3], 'inputs[0]')).toThrow(
      'inputs[0].data: expected 6 elements for shape [2,3], got 3',
    );
  });

  it('refuses non-array data and FP16 JSON', () => {
    expect(() => decodeTensorData('FP32', [1], 'abc', 'inputs[0]')).toThrow(
      'inputs[0].data: expected an array, got string',
    );
    expect(() => decodeTensorData('FP16', [1], [1], 'inputs[0]')).toThrow(BadRequestError);
  });
});

describe('shapes', () => {
  const spec = { name: 'input', datatype: 'FP32' as const, shape: [-1, 4] };

  it('accepts any size on dynamic dimensions', () => {
    expect(() => checkShape(spec, [7, 4], 'inputs[0]')).not.toThrow();
  });

  it('names the axis and both shapes on a mismatch', () => {
    expect(() => checkShape(spec, [1, 3], 'inputs[0]')).toThrow(
      'inputs[0].shape[1]: expected 4 [-1,4], got 3 [1,3]',
    );
    expect(() => checkShape(spec, [4], 'inputs[0]')).toThrow(
      'inputs[0].shape: expected rank 2 [-1,4], got rank 1 [4]',
    );
  });

  it('rejects negative, fractional and oversized shapes', () => {
    expect(() => parseShape([1, -1], 'x', 100)).toThrow(
      'x.shape[1]: expected a non-negative integer, got -1',
    );
    expect(() => parseShape([1.5], 'x', 100)).toThrow('x.shape[0]');
    expect(() => parseShape([1000, 1000], 'x', 100)).toThrow('more than the limit of 100');
  });
});

describe('encodeTensorData', () => {
  it('turns 64-bit integers into numbers when safe and strings when not', () => {
    expect(encodeTensorData(new BigInt64Array([1n, 2n ** 62n]))).toEqual([1, '4611686018427387904']);
    expect(encodeTensorData(new Float32Array([0.5]))).toEqual([0.5]);
  });
});
