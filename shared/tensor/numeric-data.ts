// The typed form of a numeric OIP `data` array, shared by the fast JSON reader (protocol/) and
// the tensor decoder, so neither has to import the other.

const MAX_EXACT = 9007199254740991;
// The fast reader accumulates ≤ 25 digits in a double, then one multiplication or division:
// relative error below 30 · 2^-53 ≈ 3.3e-15, so 1e-14 is a safe bound.
export const APPROXIMATION_BOUND = 1e-14;
const EMPTY_INDEXES = new Int32Array(0);

/**
 * Numbers of an `inputs[i].data` array and the array's dims. Most values are the exact doubles
 * JSON.parse would give; numbers with more than 15-16 significant digits (any float32 printed as
 * a double) are first read approximately (within 1e-14 relative) and listed in `inexact`, with
 * their text, so they are made exact only when a float32 rounding cannot settle them.
 */
export class NumericData {
  private exactValues: Float64Array | undefined;

  constructor(
    private readonly approximate: Float64Array,
    /** Length at each nesting level: [n] for flat data, [2, 3] for [[a,b,c],[d,e,f]]. */
    readonly dims: readonly number[],
    private readonly text: Buffer,
    /** Triples (index, start, end) of approximate values and their byte offsets in `text`. */
    private readonly inexact: Int32Array,
  ) {}

  /** Values that are already the exact doubles (numbers read from another text format). */
  static ofExact(values: Float64Array, dims: readonly number[]): NumericData {
    // No text to read back: nothing is inexact. (Not a module-level Buffer: the edge bundle runs
    // this module in browsers, which have no Buffer.)
    return new NumericData(values, dims, Buffer.alloc(0), EMPTY_INDEXES);
  }

  get length(): number {
    return this.approximate.length;
  }

  allFinite(): boolean {
    const values = this.approximate;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return false;
    return true;
  }

  /** The doubles JSON.parse would give. */
  exact(): Float64Array {
    if (this.exactValues !== undefined) return this.exactValues;
    const values = this.approximate;
    for (let k = 0; k < this.inexact.length; k += 3) {
      values[this.inexact[k] as number] = Number(
        this.text.toString('latin1', this.inexact[k + 1] as number, this.inexact[k + 2] as number),
      );
    }
    this.exactValues = values;
    return values;
  }

  /** Float32 values equal to Math.fround of the exact doubles, mostly without computing those. */
  float32(): Float32Array {
    const out = new Float32Array(this.exactValues ?? this.approximate);
    if (this.exactValues !== undefined) return out;
    const values = this.approximate;
    for (let k = 0; k < this.inexact.length; k += 3) {
      const index = this.inexact[k] as number;
      const d = values[index] as number;
      // The exact double lies within d·(1 ± 1e-14); if both ends round to the same float32, so does it.
      const low = Math.fround(d * (1 - APPROXIMATION_BOUND));
      if (low !== Math.fround(d * (1 + APPROXIMATION_BOUND))) {
        out[index] = Number(
          this.text.toString('latin1', this.inexact[k + 1] as number, this.inexact[k + 2] as number),
        );
      }
    }
    return out;
  }

  /** The plain (nested) array JSON.parse would have built, for the generic path's checks. */
  toArray(): unknown[] {
    const values = this.exact();
    let next = 0;
    const build = (depth: number): unknown[] => {
      const length = this.dims[depth] ?? 0;
      const out = new Array<unknown>(length);
      if (depth === this.dims.length - 1) {
        for (let i = 0; i < length; i++) out[i] = values[next++];
      } else {
        for (let i = 0; i < length; i++) out[i] = build(depth + 1);
      }
      return out;
    };
    return build(0);
  }
}

/**
 * The typed array `decodeTensorData` would build from the same values, or undefined when the
 * values or their layout need the generic path (which then reports the precise error).
 */
export function decodeNumericData(
  datatype: string,
  shape: readonly number[],
  count: number,
  data: NumericData,
):
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | undefined {
  const { dims } = data;
  const flat = dims.length === 1 && data.length === count;
  if (!flat && !sameDims(dims, shape)) return undefined;
  if (datatype === 'FP32') {
    const values = data.float32();
    // Beyond float32's range the values would become Infinity; the generic path refuses them by index.
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i] as number)) return undefined;
    return values;
  }
  const values = data.exact();
  switch (datatype) {
    case 'FP64':
      return data.allFinite() ? values.slice() : undefined;
    case 'INT8':
      return integers(values, -0x80, 0x7f) ? new Int8Array(values) : undefined;
    case 'INT16':
      return integers(values, -0x8000, 0x7fff) ? new Int16Array(values) : undefined;
    case 'INT32':
      return integers(values, -0x80000000, 0x7fffffff) ? new Int32Array(values) : undefined;
    case 'UINT8':
      return integers(values, 0, 0xff) ? new Uint8Array(values) : undefined;
    case 'UINT16':
      return integers(values, 0, 0xffff) ? new Uint16Array(values) : undefined;
    case 'UINT32':
      return integers(values, 0, 0xffffffff) ? new Uint32Array(values) : undefined;
    case 'INT64':
    case 'UINT64': {
      const min = datatype === 'INT64' ? -MAX_EXACT : 0;
      if (!integers(values, min, MAX_EXACT)) return undefined;
      const out = datatype === 'INT64' ? new BigInt64Array(values.length) : new BigUint64Array(values.length);
      for (let i = 0; i < values.length; i++) out[i] = BigInt(values[i] as number);
      return out;
    }
    default:
      return undefined;
  }
}

function sameDims(dims: readonly number[], shape: readonly number[]): boolean {
  if (dims.length !== shape.length) return false;
  for (let i = 0; i < dims.length; i++) if (dims[i] !== shape[i]) return false;
  return true;
}

function integers(values: Float64Array, min: number, max: number): boolean {
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!(v >= min && v <= max && Math.floor(v) === v)) return false;
  }
  return true;
}
