import * as ort from 'onnxruntime-node';
import { fromOrtType } from '../tensor/datatypes';
import type { TensorSpec } from '../tensor/tensor';

/** What serving needs of a loaded model's session. */
export interface OrtSession {
  readonly inputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: readonly ort.InferenceSession.ValueMetadata[];
  /** The named outputs; rejects when onnxruntime refuses the inputs. */
  run(
    feeds: Readonly<Record<string, ort.Tensor>>,
    outputs: readonly string[],
  ): Promise<Record<string, ort.Tensor>>;
  /**
   * The same run answered directly, where the runtime runs on the calling thread anyway (the
   * native binding; not onnxruntime-web): throws what `run` would reject with.
   */
  runNow?(
    feeds: Readonly<Record<string, ort.Tensor>>,
    outputs: readonly string[],
  ): Record<string, ort.Tensor>;
  release(): Promise<void>;
}
export type OrtTensor = ort.Tensor;
export { ort };

/** The signature a model declares, in OIP terms; symbolic or unknown dimensions become -1. */
export function signatureOf(session: OrtSession): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const toSpec = (meta: ort.InferenceSession.ValueMetadata): TensorSpec => {
    if (!meta.isTensor)
      throw new Error(`"${meta.name}" is not a tensor; only tensor inputs and outputs are supported`);
    const datatype = fromOrtType(meta.type);
    if (datatype === undefined) throw new Error(`"${meta.name}" has unsupported element type ${meta.type}`);
    return {
      name: meta.name,
      datatype,
      shape: meta.shape.map((dim) => (typeof dim === 'number' && dim >= 0 ? dim : -1)),
    };
  };
  return { inputs: session.inputMetadata.map(toSpec), outputs: session.outputMetadata.map(toSpec) };
}

/**
 * A one-node model (Identity on one float, built with scripts/lib/onnx-builder.ts; the test
 * rebuilds it). Creating a session from it initialises onnxruntime's process-wide environment
 * (≈ 30 ms of a cold start, paid by the first session otherwise).
 */
export const RUNTIME_PROBE_MODEL =
  'CAgSCm1vZGVsZmxlZXQyADpGChwKAXgSAXkaCklkZW50aXR5XzAiCElkZW50aXR5EgR3YXJtWg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQDQ==';
