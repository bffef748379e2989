import { encodeTensorData } from './tensor';
import type { OutputTensor } from './types';

/** The expected outputs of a manifest sample, compared with what a model (or an endpoint) returned. */
export function compareOutputs(
  expected: readonly { name: string; shape: number[]; data: unknown[] }[],
  actual: readonly Pick<OutputTensor, 'name' | 'shape' | 'data'>[],
  tolerance: number,
): string[] {
  const problems: string[] = [];
  for (const want of expected) {
    const got = actual.find((output) => output.name === want.name);
    if (got === undefined) {
      problems.push(`output "${want.name}" is missing`);
      continue;
    }
    if (want.shape.join(',') !== got.shape.join(',')) {
      problems.push(`output "${want.name}": shape [${got.shape}] differs from expected [${want.shape}]`);
      continue;
    }
    const wantData = flatten(want.data);
    // Outputs returned as binary tensor data have no JSON data.
    const gotData = got.data ?? [];
    for (let i = 0; i < wantData.length; i++) {
      const a = Number(wantData[i]);
      const b = Number(gotData[i]);
      const close = Number.isNaN(a) ? Number.isNaN(b) : Math.abs(a - b) <= tolerance;
      if (!close) {
        problems.push(
          `output "${want.name}" element ${i}: got ${gotData[i]}, expected ${wantData[i]} (±${tolerance})`,
        );
        if (problems.length >= 10) return problems;
      }
    }
  }
  return problems;
}

function flatten(data: unknown[]): unknown[] {
  return data.some(Array.isArray) ? (data as unknown[]).flat(Number.POSITIVE_INFINITY) : data;
}

/**
 * An output's values whether it is JSON data or binary data (a shadow compares both alike).
 * BYTES and FP16 outputs sent as binary have no comparable numeric values and give [].
 */
export function outputValues(output: OutputTensor): unknown[] {
  if (output.data !== undefined) return output.data;
  if (output.binaryData === undefined || output.datatype === 'BYTES' || output.datatype === 'FP16') return [];
  return encodeTensorData(output.binaryData);
}

/**
 * Exactly the same outputs: names, types, shapes and values (Object.is: NaN equals NaN, -0 differs
 * from 0). Whether a shared run answered each call as its run alone did (serving/row-independence.ts).
 */
export function sameOutputs(a: readonly OutputTensor[], b: readonly OutputTensor[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((left, index) => {
    const right = b[index];
    if (right === undefined || left.name !== right.name || left.datatype !== right.datatype) return false;
    if (left.shape.join(',') !== right.shape.join(',')) return false;
    const [x, y] = [left.data ?? [], right.data ?? []];
    return x.length === y.length && x.every((value, i) => Object.is(value, y[i]));
  });
}
