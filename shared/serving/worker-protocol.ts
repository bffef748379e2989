/**
 * Messages between the main thread and an inference worker (serving/worker-pool.ts ↔
 * serving/inference-worker.ts). Models are known by a number the pool assigns per loaded version.
 */

/** A tensor as it crosses threads: onnxruntime's type name, dims and data (typed array or strings). */
export interface WireTensor {
  type: string;
  dims: readonly number[];
  data: unknown;
}

export type ToWorker =
  | { kind: 'load'; job: number; model: number; artifact: Uint8Array }
  | { kind: 'run'; job: number; model: number; feeds: Record<string, WireTensor>; outputs: string[] }
  | { kind: 'release'; model: number };

export type FromWorker =
  | { kind: 'loaded'; job: number }
  | {
      kind: 'ran';
      job: number;
      results: Record<string, WireTensor>;
      runMs: number;
      /** Epoch ms (performance.timeOrigin + now), comparable across threads. */
      startedAt: number;
      endedAt: number;
    }
  | { kind: 'failed'; job: number; message: string; runFailed: boolean };
