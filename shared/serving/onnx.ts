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

/**
 * A one-node model (Identity on one float, built with scripts/lib/onnx-builder.ts; the test
 * rebuilds it). Creating a session from it initialises onnxruntime's process-wide environment
 * (≈ 30 ms of a cold start, paid by the first session otherwise).
 */
export const RUNTIME_PROBE_MODEL =
  'CAgSCm1vZGVsZmxlZXQyADpGChwKAXgSAXkaCklkZW50aXR5XzAiCElkZW50aXR5EgR3YXJtWg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQDQ==';

let runtimeStarted: Promise<void> | undefined;

/**
 * Initialises onnxruntime's environment ahead of the first real session: the cold start calls it
 * while the stage's store reads are in flight (shared/boot.ts), so the first model's session is
 * created as soon as its artifact arrives. Never rejects: a real failure shows on the real session.
 */
export function startRuntime(): Promise<void> {
  runtimeStarted ??= createSession(Buffer.from(RUNTIME_PROBE_MODEL, 'base64')).then(
    (session) => session.release(),
    () => undefined,
  );
  return runtimeStarted;
}
