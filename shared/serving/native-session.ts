/**
 * Sessions on onnxruntime-node's native binding (Node only: the edge bundle runs onnxruntime-web
 * and imports shared/serving/onnx.ts, never this module).
 */
import { type Binding, binding, initOrt } from 'onnxruntime-node/dist/binding';
import { type OrtSession, type ort, RUNTIME_PROBE_MODEL } from './onnx';

const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  // One Lambda/Functions instance serves one request at a time on 1-2 vCPUs: extra intra-op
  // threads only add contention for the small models this targets.
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  // Run failures are reported to the client as 400s; ORT's own stderr copy is noise.
  logSeverityLevel: 4,
};

/**
 * A session on onnxruntime-node's native binding, loaded after one event-loop turn as
 * `InferenceSession.create` loads it (loading blocks the thread for as long as the model takes, and
 * the cold start's store answers are handled before it).
 */
export function createSession(artifact: Uint8Array): Promise<OrtSession> {
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      try {
        initOrt();
        const native = new binding.InferenceSession();
        native.loadModel(
          artifact.buffer as ArrayBuffer,
          artifact.byteOffset,
          artifact.byteLength,
          SESSION_OPTIONS,
        );
        resolve(new DirectSession(native));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/**
 * Runs the native session on the calling thread. The public `InferenceSession.run` calls the same
 * synchronous native run from a `setImmediate`: a whole event-loop turn per run that buys nothing
 * (the run blocks the thread either way) and costs ≈ 7 µs of the tabular bench model's ≈ 19 µs
 * (bench/analysis.md). The binding is onnxruntime-node's own typed module (`dist/binding.d.ts`);
 * test/serving/direct-session.test.ts compares this class with the public session on every sample
 * model, so an onnxruntime upgrade that changes the binding fails there.
 */
class DirectSession implements OrtSession {
  readonly inputMetadata: ort.InferenceSession.ValueMetadata[];
  readonly outputMetadata: ort.InferenceSession.ValueMetadata[];
  private readonly inputNames: string[];
  private readonly outputNames: string[];

  constructor(private readonly native: Binding.InferenceSession) {
    this.inputMetadata = native.inputMetadata.map(valueMetadata);
    this.outputMetadata = native.outputMetadata.map(valueMetadata);
    this.inputNames = this.inputMetadata.map((meta) => meta.name);
    this.outputNames = this.outputMetadata.map((meta) => meta.name);
  }

  run(
    feeds: Readonly<Record<string, ort.Tensor>>,
    outputs: readonly string[],
  ): Promise<Record<string, ort.Tensor>> {
    try {
      return Promise.resolve(this.runNow(feeds, outputs));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  runNow(
    feeds: Readonly<Record<string, ort.Tensor>>,
    outputs: readonly string[],
  ): Record<string, ort.Tensor> {
    // The public API's checks, with its messages. The binding has none: a missing input reaches
    // the graph's kernels as a null value, an unknown output name is dropped without a word.
    for (const name of this.inputNames) {
      if (feeds[name] === undefined) throw new Error(`input '${name}' is missing in 'feeds'.`);
    }
    const fetches: Record<string, null> = {};
    for (const name of outputs) {
      if (!this.outputNames.includes(name))
        throw new RangeError(`'fetches' contains invalid output name: ${name}.`);
      fetches[name] = null;
    }
    // initOrt gave the binding ort.Tensor to build its outputs with.
    return this.native.run(feeds, fetches, {}) as Record<string, ort.Tensor>;
  }

  release(): Promise<void> {
    this.native.dispose();
    return Promise.resolve();
  }
}

/** onnxruntime-node's element type codes (ONNX TensorProto.DataType), as its backend names them. */
const ELEMENT_TYPES: Readonly<Record<number, ort.Tensor.Type>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  21: 'uint4',
  22: 'int4',
};

/** The binding's metadata as the public session describes it (symbolic dimensions by name). */
function valueMetadata(raw: Binding.ValueMetadata): ort.InferenceSession.ValueMetadata {
  if (!raw.isTensor) return { name: raw.name, isTensor: false };
  const type = ELEMENT_TYPES[raw.type];
  if (type === undefined) throw new Error(`"${raw.name}" has unsupported element type code ${raw.type}`);
  const shape = raw.shape.map((dim, i) => (dim === -1 ? (raw.symbolicDimensions[i] ?? '') : dim));
  return { name: raw.name, isTensor: true, type, shape };
}

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
