import type { InferCall, OutputTensor } from '../tensor/types';
import { runInference, runInferenceNow } from './inference';
import type { LoadedModel } from './loaded-model';

export interface RunResult {
  outputs: OutputTensor[];
  runMs: number;
  /** Wall-clock interval of a run on a worker (epoch ms, comparable across threads): for tests and the bench. */
  span?: { startedAt: number; endedAt: number; worker: number };
}

/**
 * Where `session.run` happens. The function entries run it inline (one request per instance);
 * the long-running server hands it to a pool of worker threads (serving/worker-pool.ts) so a slow
 * model never stalls the event loop that parses, routes and answers health probes.
 */
export interface InferenceEngine {
  run(model: LoadedModel, call: InferCall): Promise<RunResult>;
  /**
   * The run answered directly when this engine runs it on the calling thread (undefined when it
   * cannot: then `run`); throws what `run` would reject with.
   */
  runNow?(model: LoadedModel, call: InferCall): RunResult | undefined;
  /**
   * Called by the model cache once a version is verified and its main-thread session exists, with
   * the verified bytes: an engine that runs elsewhere creates its own sessions from them here,
   * so the version is ready everywhere before it serves. A rejection fails the load.
   */
  prepare?(model: LoadedModel, artifact: Uint8Array): Promise<void>;
  /** The version left the model cache: sessions held for it elsewhere can go. */
  release?(model: LoadedModel): void;
}

/** onnxruntime on the calling thread: the function entries' engine, and the pool's fallback. */
export const inlineEngine: InferenceEngine = { run: runInference, runNow: runInferenceNow };

/** Smoothed run time per batch row of one model, from its runs on workers. */
export interface RunTimeEstimate {
  msPerRow: number;
  runs: number;
}

const SMOOTHING = 0.2;

/** The estimate after one more run of `rows` rows that took `runMs`. */
export function observeRun(
  previous: RunTimeEstimate | undefined,
  runMs: number,
  rows: number,
): RunTimeEstimate {
  const perRow = runMs / Math.max(1, rows);
  if (previous === undefined) return { msPerRow: perRow, runs: 1 };
  return { msPerRow: previous.msPerRow + SMOOTHING * (perRow - previous.msPerRow), runs: previous.runs + 1 };
}

/**
 * Whether a call runs on the main thread: only once a few runs have shown that this model, at
 * this batch size, takes less than `thresholdMs` (a model never seen runs in a worker: it might
 * take seconds). Below the threshold the hop to a worker and back costs more than the run itself.
 */
export function runsInline(
  estimate: RunTimeEstimate | undefined,
  rows: number,
  thresholdMs: number,
): boolean {
  if (estimate === undefined || estimate.runs < 3) return false;
  return estimate.msPerRow * Math.max(1, rows) < thresholdMs;
}

/** Rows in a call: the first input's leading dimension (1 for a scalar input). */
export function rowsOf(call: InferCall): number {
  return call.inputs.values().next().value?.shape[0] ?? 1;
}
