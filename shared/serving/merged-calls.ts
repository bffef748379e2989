/**
 * Validated calls stacked along the batch axis into one call, and the outputs of that run cut back
 * into each call's rows: streamed records (records/stream-batch.ts) and the server's requests of
 * one event-loop turn (serving/turn-batcher.ts). Pure: the callers decide what to do when either
 * declines.
 */

import { concatTensorData } from '../tensor/concat';
import type { InferCall, InferInput, ModelSignature, OutputTensor } from '../tensor/types';

export interface MergedCall {
  call: InferCall;
  /** Rows of each call, in order. */
  rows: number[];
  total: number;
}

/**
 * One call for all of `calls`, or undefined when they cannot share a run: a model input without a
 * variable first axis, inputs whose other axes differ between calls, calls asking for different
 * (or binary) outputs, or a call whose inputs disagree on their row count.
 */
export function mergeCalls(model: ModelSignature, calls: readonly InferCall[]): MergedCall | undefined {
  const [first] = calls;
  if (first === undefined) return undefined;
  for (const spec of model.inputs.values()) {
    if (spec.shape.length === 0 || (spec.shape[0] ?? 0) >= 0) return undefined;
  }
  const outputs = first.outputs.join('\u0000');
  const rows: number[] = [];
  for (const call of calls) {
    if (call.outputs.join('\u0000') !== outputs || call.binaryOutputs !== undefined) return undefined;
    const counts = new Set([...call.inputs.values()].map((input) => input.shape[0]));
    const [count] = counts;
    if (counts.size !== 1 || count === undefined) return undefined;
    rows.push(count);
  }
  const inputs = new Map<string, InferInput>();
  for (const name of model.inputs.keys()) {
    const parts = calls.map((call) => call.inputs.get(name));
    const merged = stack(name, parts);
    if (merged === undefined) return undefined;
    inputs.set(name, merged);
  }
  const total = rows.reduce((sum, n) => sum + n, 0);
  return { call: { inputs, outputs: [...first.outputs] }, rows, total };
}

function stack(name: string, parts: readonly (InferInput | undefined)[]): InferInput | undefined {
  const [first] = parts;
  if (first === undefined) return undefined;
  const inner = first.shape.slice(1).join(',');
  let rows = 0;
  for (const part of parts) {
    if (part === undefined || part.shape.slice(1).join(',') !== inner) return undefined;
    if (part.data.constructor !== first.data.constructor) return undefined;
    rows += part.shape[0] ?? 0;
  }
  const datas = parts.map((part) => (part as InferInput).data);
  return { name, shape: [rows, ...first.shape.slice(1)], data: concatTensorData(datas) };
}

/** Each call's share of the outputs, or undefined when an output has no batch axis to cut. */
export function splitOutputs(
  outputs: readonly OutputTensor[],
  rows: readonly number[],
): OutputTensor[][] | undefined {
  const total = rows.reduce((sum, n) => sum + n, 0);
  const result: OutputTensor[][] = rows.map(() => []);
  for (const output of outputs) {
    const data = output.data;
    if (data === undefined || output.shape[0] !== total) return undefined;
    const rowSize = output.shape.slice(1).reduce((product, dim) => product * dim, 1);
    let start = 0;
    rows.forEach((count, index) => {
      result[index]?.push({
        name: output.name,
        datatype: output.datatype,
        shape: [count, ...output.shape.slice(1)],
        data: data.slice(start * rowSize, (start + count) * rowSize),
      });
      start += count;
    });
  }
  return result;
}
