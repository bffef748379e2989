import type { TensorData } from './tensor';

/**
 * Tensor data joined along the batch axis (the parts' rows one after another), in the first
 * part's array type: what batched runs of several requests, records or rows share. Callers check
 * that the parts have the same inner shape and datatype.
 */
export function concatTensorData(parts: readonly TensorData[]): TensorData {
  const [first] = parts;
  if (first === undefined || Array.isArray(first)) return (parts as string[][]).flat();
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const Typed = first.constructor as new (length: number) => Exclude<TensorData, string[]>;
  const out = new Typed(length);
  let offset = 0;
  for (const part of parts) {
    (out as { set(values: ArrayLike<unknown>, offset: number): void }).set(
      part as ArrayLike<unknown>,
      offset,
    );
    offset += part.length;
  }
  return out;
}
