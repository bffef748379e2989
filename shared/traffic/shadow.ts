import { outputValues } from '../tensor/compare';
import type { OutputTensor } from '../tensor/types';

export type ShadowComparison =
  /** Share of rows whose top-1 class (a label output, or the arg-max of a score output) agrees. */
  | { kind: 'classification'; output: string; agreement: number }
  /** Mean absolute difference over every element of the first float output. */
  | { kind: 'regression'; output: string; meanAbsDiff: number };

const LABEL_TYPES = /^(BOOL|U?INT(8|16|32|64)|BYTES)$/;

/**
 * Compares a primary's outputs with its shadow's, pure. A model with an integer (or string)
 * output is treated as a classifier and compared on it; otherwise a float output whose last axis
 * has more than one entry is read as class scores (top-1 agreement), and any other float output
 * as a regression (mean absolute difference). Undefined when no output can be compared (names,
 * types or shapes differ), which the caller records as a shadow error.
 */
export function compareWithShadow(
  primary: readonly OutputTensor[],
  shadow: readonly OutputTensor[],
): ShadowComparison | undefined {
  const pairs: [Values, Values][] = [];
  for (const p of primary) {
    const s = shadow.find((candidate) => candidate.name === p.name);
    if (s !== undefined && s.datatype === p.datatype && sameShape(p.shape, s.shape)) {
      pairs.push([withValues(p), withValues(s)]);
    }
  }
  const labels = pairs.find(([p]) => LABEL_TYPES.test(p.datatype));
  if (labels !== undefined) {
    const [p, s] = labels;
    const rows = p.data.length;
    let same = 0;
    for (let i = 0; i < rows; i++) if (String(p.data[i]) === String(s.data[i])) same++;
    return { kind: 'classification', output: p.name, agreement: rows === 0 ? 1 : same / rows };
  }
  const floats = pairs.find(([p]) => p.datatype === 'FP32' || p.datatype === 'FP64' || p.datatype === 'FP16');
  if (floats === undefined) return undefined;
  const [p, s] = floats;
  const width = p.shape.length >= 2 ? (p.shape.at(-1) ?? 1) : 1;
  if (width > 1) {
    const rows = p.data.length / width;
    let same = 0;
    for (let row = 0; row < rows; row++) {
      if (argMax(p.data, row * width, width) === argMax(s.data, row * width, width)) same++;
    }
    return { kind: 'classification', output: p.name, agreement: rows === 0 ? 1 : same / rows };
  }
  let total = 0;
  for (let i = 0; i < p.data.length; i++) total += Math.abs(Number(p.data[i]) - Number(s.data[i]));
  return { kind: 'regression', output: p.name, meanAbsDiff: p.data.length === 0 ? 0 : total / p.data.length };
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

function argMax(data: readonly unknown[], start: number, width: number): number {
  let best = 0;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < width; i++) {
    const value = Number(data[start + i]);
    if (value > bestValue) {
      bestValue = value;
      best = i;
    }
  }
  return best;
}

type Values = OutputTensor & { data: unknown[] };

function withValues(output: OutputTensor): Values {
  return { ...output, data: outputValues(output) };
}
