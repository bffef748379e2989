import { BadRequestError, ServiceUnavailableError } from '../errors';
import { fromOrtType, toOrtType } from '../tensor/datatypes';
import { encodeTensorData, type TensorData } from '../tensor/tensor';
import type { InferCall, OutputTensor } from '../tensor/types';
import type { LoadedModel } from './loaded-model';
import { ort } from './onnx';

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
      outputs.push({ name, datatype, shape, binaryData: tensor.data as TensorData });
    } else {
      outputs.push({ name, datatype, shape, data: encodeTensorData(tensor.data) });
    }
  }
  return { outputs, runMs };
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').slice(0, 300);
}
