import { BadRequestError, ServiceUnavailableError } from '../errors';
import { encodeBinaryOutput } from '../protocol/binary';
import type { InferCall } from '../protocol/oip';
import { fromOrtType, toOrtType } from '../tensor/datatypes';
import { encodeTensorData } from '../tensor/tensor';
import type { LoadedModel } from './model-cache';
import { ort } from './onnx';

export interface OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: { binary_data_size: number };
  /** Bytes of an output the client asked for as binary data; the response appends them. */
  raw?: Uint8Array;
}

/** Runs a validated call; returns the requested outputs in request order, plus run time in ms. */
export async function runInference(
  model: LoadedModel,
  call: InferCall,
): Promise<{ outputs: OutputTensor[]; runMs: number }> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, input] of call.inputs) {
    const spec = model.inputs.get(name);
    if (spec === undefined) continue;
    try {
      feeds[name] = new ort.Tensor(toOrtType(spec.datatype), input.data, input.shape);
    } catch (err) {
      // The request's shape and data: the client's to fix, and never a 500 that feeds the
      // rollback alarms (parseShape bounds every dimension, so this is a last line).
      throw new BadRequestError(`inputs: "${name}" cannot be made into a tensor: ${firstLine(err)}`, {
        cause: err,
      });
    }
  }
  const started = performance.now();
  let results: ort.InferenceSession.OnnxValueMapType;
  try {
    results = await model.session.run(feeds, call.outputs);
  } catch (err) {
    // Inputs already match the signature, so what is left is data the graph refuses
    // (an index out of range, batch sizes that differ between inputs).
    throw new BadRequestError(`the model could not run on these inputs: ${firstLine(err)}`, { cause: err });
  }
  const runMs = performance.now() - started;
  // Literals with every key in one place, not `{ ...described, data }`: a spread copy is slow in V8
  // and leaves an object that JSON.stringify serialises several times slower (≈ 2 µs per response).
  const outputs: OutputTensor[] = [];
  for (const name of call.outputs) {
    const tensor = results[name];
    if (tensor === undefined) throw new ServiceUnavailableError(`the model produced no output "${name}"`);
    const datatype = fromOrtType(tensor.type) ?? tensor.type;
    const shape = tensor.dims.slice();
    if (call.binaryOutputs?.has(name)) {
      const raw = encodeBinaryOutput(tensor.data);
      outputs.push({ name, datatype, shape, parameters: { binary_data_size: raw.byteLength }, raw });
    } else {
      outputs.push({ name, datatype, shape, data: encodeTensorData(tensor.data) });
    }
  }
  return { outputs, runMs };
}

const VIEWS: Record<string, (buffer: ArrayBuffer) => ArrayLike<number | bigint>> = {
  FP32: (b) => new Float32Array(b),
  FP64: (b) => new Float64Array(b),
  INT8: (b) => new Int8Array(b),
  INT16: (b) => new Int16Array(b),
  INT32: (b) => new Int32Array(b),
  INT64: (b) => new BigInt64Array(b),
  UINT8: (b) => new Uint8Array(b),
  BOOL: (b) => new Uint8Array(b),
  UINT16: (b) => new Uint16Array(b),
  UINT32: (b) => new Uint32Array(b),
  UINT64: (b) => new BigUint64Array(b),
};

/**
 * An output's values whether it is JSON data or binary bytes (a shadow compares both alike).
 * BYTES outputs sent as binary have no numeric values and give [].
 */
export function outputValues(output: OutputTensor): unknown[] {
  if (output.data !== undefined) return output.data;
  const view = VIEWS[output.datatype];
  if (output.raw === undefined || view === undefined) return [];
  // slice(): binary bytes may sit at an offset that typed arrays cannot be aligned on.
  const copy = output.raw.slice().buffer as ArrayBuffer;
  return encodeTensorData(view(copy));
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').slice(0, 300);
}
