import * as ort from 'onnxruntime-node';
import { fromOrtType } from '../tensor/datatypes';
import type { TensorSpec } from '../tensor/tensor';

export type OrtSession = ort.InferenceSession;
export type OrtTensor = ort.Tensor;
export { ort };

/** The signature a model declares, in OIP terms; symbolic or unknown dimensions become -1. */
export function signatureOf(session: ort.InferenceSession): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
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

export function createSession(artifact: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(artifact, {
    // One Lambda/Functions instance serves one request at a time on 1-2 vCPUs: extra intra-op
    // threads only add contention for the small models this targets.
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // Run failures are reported to the client as 400s; ORT's own stderr copy is noise.
    logSeverityLevel: 4,
  });
}
