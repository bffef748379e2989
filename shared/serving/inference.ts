import { BadRequestError, ServiceUnavailableError } from '../errors';
import { fromOrtType, toOrtType } from '../tensor/datatypes';
import { encodeTensorData, type TensorData } from '../tensor/tensor';
import type { InferCall, OutputTensor } from '../tensor/types';
import type { LoadedModel } from './loaded-model';
import { ort } from './onnx';

/** What a run produced for one output, wherever it ran: an ort.Tensor, or its fields sent back by a worker. */
export interface RawOutput {
  readonly type: string;
  readonly dims: readonly number[];
  readonly data: unknown;
}

/**
 * Runs a validated call; returns the requested outputs in request order, plus run time in ms.
 * `then` rather than async/await: one promise per run instead of two (see DataPlane.infer).
 */
export function runInference(
  model: LoadedModel,
  call: InferCall,
): Promise<{ outputs: OutputTensor[]; runMs: number }> {
  let feeds: Record<string, ort.Tensor>;
  try {
    const now = runInferenceNow(model, call);
    if (now !== undefined) return Promise.resolve(now);
    feeds = buildFeeds(model, call);
  } catch (err) {
    return Promise.reject(err);
  }
  const started = performance.now();
  return model.session.run(feeds, call.outputs).then(
    (results) => ({ outputs: collectOutputs(results, call), runMs: performance.now() - started }),
    (err: unknown) => {
      throw runFailure(err);
    },
  );
}

/**
 * `runInference` answered directly, for sessions that run on the calling thread anyway (undefined
 * for the others); throws what it would reject with. A function's request then awaits nothing
 * between its route and its answer.
 */
export function runInferenceNow(
  model: LoadedModel,
  call: InferCall,
): { outputs: OutputTensor[]; runMs: number } | undefined {
  const session = model.session;
  if (session.runNow === undefined) return undefined;
  const feeds = buildFeeds(model, call);
  const started = performance.now();
  let results: Record<string, ort.Tensor>;
  try {
    results = session.runNow(feeds, call.outputs);
  } catch (err) {
    throw runFailure(err);
  }
  return { outputs: collectOutputs(results, call), runMs: performance.now() - started };
}

/** The call's inputs as onnxruntime tensors; data the signature accepted but ORT refuses is a 400. */
export function buildFeeds(model: LoadedModel, call: InferCall): Record<string, ort.Tensor> {
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
  return feeds;
}

/**
 * Inputs already match the signature, so a failed run is data the graph refuses (an index out of
 * range, batch sizes that differ between inputs).
 */
export function runFailure(err: unknown): BadRequestError {
  return new BadRequestError(`the model could not run on these inputs: ${firstLine(err)}`, { cause: err });
}

/** The requested outputs, in request order, as the protocols write them. */
export function collectOutputs(
  results: Readonly<Record<string, RawOutput | undefined>>,
  call: InferCall,
): OutputTensor[] {
  // Literals with every key in one place, not `{ ...described, data }`: a spread copy is slow in V8
  // and leaves an object that JSON.stringify serialises several times slower (≈ 2 µs per response).
  const outputs: OutputTensor[] = [];
  for (const name of call.outputs) {
    const tensor = results[name];
    if (tensor === undefined) throw new ServiceUnavailableError(`the model produced no output "${name}"`);
    const datatype = fromOrtType(tensor.type) ?? tensor.type;
    const shape = smallIntegers(tensor.dims);
    if (call.binaryOutputs?.has(name)) {
      outputs.push({ name, datatype, shape, binaryData: tensor.data as TensorData });
    } else {
      outputs.push({ name, datatype, shape, data: encodeTensorData(tensor.data) });
    }
  }
  return outputs;
}

/**
 * The binding's dims are heap numbers, which JSON.stringify formats as doubles: `[1, 2]` took
 * 1.27 µs in the request loop, 1.01 µs as small integers (bench/floor.ts's way of measuring).
 */
function smallIntegers(dims: readonly number[]): number[] {
  const out: number[] = [];
  for (const dim of dims) out.push(dim >= 0 && dim <= 0x3fffffff ? dim | 0 : dim);
  return out;
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return (message.split('\n')[0] ?? '').slice(0, 300);
}
