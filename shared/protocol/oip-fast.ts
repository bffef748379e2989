import { NumericData } from '../tensor/numeric-data';

/**
 * A JSON reader for OIP infer requests that parses `inputs[i].data` number arrays straight into a
 * Float64Array instead of building a JS array per row first (for a 1×3×48×192 image that is the
 * difference between ≈ 3.4 ms of JSON.parse and well under 1 ms).
 *
 * Contract: `parseOipJson(text)` returns exactly what `JSON.parse(text)` would, except that a
 * numeric, rectangular `inputs[i].data` array is a `NumericData` holding the same doubles in
 * row-major order. For anything else it is not sure about (invalid JSON, strings or booleans in
 * `data`, ragged or empty arrays, `__proto__` keys, very deep nesting) it returns undefined and the
 * caller uses JSON.parse, so errors and their messages come from the one generic path.
 */

/**
 * What the infer route calls: below a few KB JSON.parse (native) plus the generic decoder is
 * faster than setting up the byte scan, so small bodies go that way.
 */
export function parseOipBody(text: string): unknown {
  if (text.length < SMALL_BODY) return undefined;
  const parsed = parseOipJson(text);
  // 1e400 parses to Infinity: leave it to JSON.parse and the body checks, which refuse it by path.
  return hasNonFinite(parsed) ? undefined : parsed;
}

function hasNonFinite(parsed: unknown): boolean {
  const inputs =
    parsed !== null && typeof parsed === 'object' ? (parsed as { inputs?: unknown }).inputs : undefined;
  if (!Array.isArray(inputs)) return false;
  return inputs.some((input: unknown) => {
    const data = input !== null && typeof input === 'object' ? (input as { data?: unknown }).data : undefined;
    return data instanceof NumericData && !data.allFinite();
  });
}

const SMALL_BODY = 2048;

/** JSON.parse for OIP bodies with typed `data`; undefined means "use JSON.parse". */
export function parseOipJson(text: string): unknown {
  try {
    const length = Buffer.byteLength(text, 'utf8');
    // Lone surrogates would not survive the trip through UTF-8 that JSON.parse never makes.
    if (length !== text.length && !(text as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      return undefined;
    }
    // Bytes scan twice as fast as charCodeAt; zero padding stops every loop at the end.
    const bytes = Buffer.allocUnsafe(length + PADDING);
    bytes.write(text, 0, 'utf8');
    bytes.fill(0, length);
    const reader = new Reader(bytes, text, length === text.length);
    reader.skipWhitespace();
    const value = reader.value(TOP);
    reader.skipWhitespace();
    return reader.pos === length ? value : undefined;
  } catch (err) {
    if (err === ABORT || err instanceof RangeError) return undefined;
    throw err;
  }
}

const ABORT = Symbol('abort');
// Where a value sits, so only inputs[i].data gets the numeric treatment.
const ANY = 0;
const TOP = 1;
const INPUTS = 2;
const TENSOR = 3;
const MAX_DEPTH = 512;
const PADDING = 4;
// Integers up to 2^53 and powers of ten up to 1e22 are exact doubles, so m * 10^e (or m / 10^-e)
// is correctly rounded: the same double JSON.parse produces (Clinger's fast path).
const EXACT_POWERS = Array.from({ length: 23 }, (_, i) => 10 ** i);
const MAX_EXACT = Number.MAX_SAFE_INTEGER;
// Longer numbers are read exactly (see APPROXIMATION_BOUND for why 25 is safe).
const MAX_APPROXIMATE_DIGITS = 25;

function abort(): never {
  throw ABORT;
}

class Reader {
  pos = 0;
  private depth = 0;

  constructor(
    private readonly bytes: Buffer,
    /** The same JSON as a string; its indices equal byte offsets when `ascii`. */
    private readonly source: string,
    private readonly ascii: boolean,
  ) {}

  private slice(start: number, end: number): string {
    return this.ascii ? this.source.slice(start, end) : this.bytes.toString('utf8', start, end);
  }

  skipWhitespace(): void {
    const text = this.bytes;
    let pos = this.pos;
    for (;;) {
      const c = text[pos] as number;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
    this.pos = pos;
  }

  value(where: number): unknown {
    const c = this.bytes[this.pos] as number;
    if (c === 0x7b /* { */) return this.object(where);
    if (c === 0x5b /* [ */) return this.array(where);
    if (c === 0x22 /* " */) return this.string();
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal('true')) return true;
    if (this.literal('false')) return false;
    if (this.literal('null')) return null;
    return abort();
  }

  private literal(word: string): boolean {
    for (let i = 0; i < word.length; i++) {
      if (this.bytes[this.pos + i] !== word.charCodeAt(i)) return false;
    }
    this.pos += word.length;
    return true;
  }

  private object(where: number): Record<string, unknown> {
    if (++this.depth > MAX_DEPTH) abort();
    const out: Record<string, unknown> = {};
    this.pos++;
    this.skipWhitespace();
    if ((this.bytes[this.pos] as number) === 0x7d /* } */) {
      this.pos++;
      this.depth--;
      return out;
    }
    for (;;) {
      if ((this.bytes[this.pos] as number) !== 0x22) abort();
      const key = this.string();
      // An assignment would set the prototype where JSON.parse makes an own property.
      if (key === '__proto__') abort();
      this.skipWhitespace();
      if ((this.bytes[this.pos] as number) !== 0x3a /* : */) abort();
      this.pos++;
      this.skipWhitespace();
      if (where === TENSOR && key === 'data' && (this.bytes[this.pos] as number) === 0x5b) {
        out[key] = this.numericArray();
      } else {
        out[key] = this.value(where === TOP && key === 'inputs' ? INPUTS : ANY);
      }
      this.skipWhitespace();
      const c = this.bytes[this.pos++] as number;
      if (c === 0x7d) break;
      if (c !== 0x2c /* , */) abort();
      this.skipWhitespace();
    }
    this.depth--;
    return out;
  }

  private array(where: number): unknown[] {
    if (++this.depth > MAX_DEPTH) abort();
    const out: unknown[] = [];
    this.pos++;
    this.skipWhitespace();
    if ((this.bytes[this.pos] as number) === 0x5d /* ] */) {
      this.pos++;
      this.depth--;
      return out;
    }
    const element = where === INPUTS ? TENSOR : ANY;
    for (;;) {
      out.push(this.value(element));
      this.skipWhitespace();
      const c = this.bytes[this.pos++] as number;
      if (c === 0x5d) break;
      if (c !== 0x2c) abort();
      this.skipWhitespace();
    }
    this.depth--;
    return out;
  }

  private string(): string {
    const text = this.bytes;
    const start = this.pos;
    let pos = start + 1;
    let escaped = false;
    for (;;) {
      const c = text[pos] as number;
      if (c === 0x22) break;
      if (c === 0x5c /* \ */) {
        escaped = true;
        pos += 2;
        continue;
      }
      if (c < 0x20) abort(); // includes the zero padding: an unterminated string
      pos++;
    }
    this.pos = pos + 1;
    if (!escaped) return this.slice(start + 1, pos);
    try {
      return JSON.parse(this.slice(start, pos + 1)) as string;
    } catch {
      return abort();
    }
  }

  /** Set by number(approximate = true) when the value returned is only within 1e-14 relative. */
  private lastInexact = false;

  /**
   * A JSON number per RFC 8259's grammar, as the double JSON.parse would give; with `approximate`,
   * long mantissas may come back approximate (flagged in lastInexact) instead of exact.
   */
  private number(approximate = false): number {
    const text = this.bytes;
    const start = this.pos;
    let pos = start;
    let negative = false;
    if ((text[pos] as number) === 0x2d) {
      negative = true;
      pos++;
    }
    let mantissa = 0;
    let exact = true;
    let digits = 0;
    let c = text[pos] as number;
    if (c === 0x30) {
      pos++;
    } else if (c >= 0x31 && c <= 0x39) {
      do {
        mantissa = mantissa * 10 + (c - 0x30);
        digits++;
        pos++;
        c = text[pos] as number;
      } while (c >= 0x30 && c <= 0x39);
      if (mantissa > MAX_EXACT) exact = false;
    } else {
      abort();
    }
    let exponent = 0;
    if ((text[pos] as number) === 0x2e /* . */) {
      pos++;
      c = text[pos] as number;
      if (!(c >= 0x30 && c <= 0x39)) abort();
      do {
        mantissa = mantissa * 10 + (c - 0x30);
        digits++;
        exponent--;
        pos++;
        c = text[pos] as number;
      } while (c >= 0x30 && c <= 0x39);
      if (mantissa > MAX_EXACT) exact = false;
    }
    c = text[pos] as number;
    if (c === 0x65 || c === 0x45 /* e E */) {
      pos++;
      c = text[pos] as number;
      let sign = 1;
      if (c === 0x2b || c === 0x2d) {
        if (c === 0x2d) sign = -1;
        pos++;
        c = text[pos] as number;
      }
      if (!(c >= 0x30 && c <= 0x39)) abort();
      let given = 0;
      do {
        if (given < 1e6) given = given * 10 + (c - 0x30);
        pos++;
        c = text[pos] as number;
      } while (c >= 0x30 && c <= 0x39);
      exponent += sign * given;
    }
    this.pos = pos;
    this.lastInexact = false;
    if (exponent >= -22 && exponent <= 22 && (exact || (approximate && digits <= MAX_APPROXIMATE_DIGITS))) {
      this.lastInexact = !exact;
      // One IEEE operation on two exact operands: correctly rounded.
      const magnitude =
        exponent >= 0
          ? mantissa * (EXACT_POWERS[exponent] as number)
          : mantissa / (EXACT_POWERS[-exponent] as number);
      return negative ? -magnitude : magnitude;
    }
    // Long mantissas and far exponents: the engine's correctly rounded conversion of the same text.
    return Number(text.toString('latin1', start, pos));
  }

  /**
   * `[ … ]` holding only numbers, every leaf at the same depth and every array at one depth of
   * the same length; anything else aborts to the generic path.
   */
  private numericArray(): NumericData {
    const text = this.bytes;
    let values = new Float64Array(256);
    let size = 0;
    const dims: number[] = [];
    const counts: number[] = [];
    let inexact = new Int32Array(96);
    let inexactSize = 0;
    let leafDepth = -1;
    let depth = 0;
    // On entry text[pos] is '['.
    for (;;) {
      // Open an array.
      if (depth >= MAX_DEPTH || (leafDepth !== -1 && depth >= leafDepth)) abort();
      if (depth > 0) counts[depth - 1] = (counts[depth - 1] as number) + 1;
      counts[depth] = 0;
      depth++;
      this.pos++;
      this.skipWhitespace();
      let c = text[this.pos] as number;
      if (c === 0x5b) continue;
      if (c === 0x5d) abort(); // empty arrays are rare enough for the generic path
      // Numbers at this depth, then closing brackets, until another array opens or the data ends.
      for (;;) {
        c = text[this.pos] as number;
        if (c === 0x5b) break;
        if (!(c === 0x2d || (c >= 0x30 && c <= 0x39))) abort();
        if (leafDepth === -1) leafDepth = depth;
        else if (depth !== leafDepth) abort();
        if (size === values.length) {
          const grown = new Float64Array(values.length * 2);
          grown.set(values);
          values = grown;
        }
        const start = this.pos;
        values[size] = this.number(true);
        if (this.lastInexact) {
          if (inexactSize + 3 > inexact.length) {
            const grown = new Int32Array(inexact.length * 2);
            grown.set(inexact);
            inexact = grown;
          }
          inexact[inexactSize++] = size;
          inexact[inexactSize++] = start;
          inexact[inexactSize++] = this.pos;
        }
        size++;
        counts[depth - 1] = (counts[depth - 1] as number) + 1;
        this.skipWhitespace();
        c = text[this.pos++] as number;
        while (c === 0x5d) {
          const level = depth - 1;
          const length = counts[level] as number;
          const known = dims[level];
          if (known === undefined) dims[level] = length;
          else if (known !== length) abort();
          depth--;
          if (depth === 0)
            return new NumericData(values.subarray(0, size), dims, text, inexact.subarray(0, inexactSize));
          this.skipWhitespace();
          c = text[this.pos++] as number;
        }
        if (c !== 0x2c) abort();
        this.skipWhitespace();
      }
    }
  }
}
