import os from 'node:os';
import { type Env, readNumber } from './env';

/**
 * What the long-running server (`npm start`, the container image) takes from the environment
 * besides parseConfig's settings: how it shuts down and where inference runs. The function
 * entries (Lambda, Azure, GCP) serve one request per instance and read none of this.
 */
export interface ServerRuntimeSettings {
  /**
   * SHUTDOWN_GRACE_SECONDS: after SIGTERM/SIGINT, how long requests already received may take to
   * finish before their connections are cut. Kubernetes waits 30 s (terminationGracePeriodSeconds)
   * before SIGKILL, Cloud Run 10 s, SageMaker 30 s: the default fits under all but Cloud Run's.
   */
  shutdownGraceMs: number;
  /**
   * INFERENCE_WORKERS: worker threads that run `session.run` off the event loop, each with its own
   * sessions; 0 runs inference on the main thread as the function entries do. Default: one per CPU.
   */
  inferenceWorkers: number;
  /**
   * INFERENCE_INLINE_BELOW_MS: a model whose measured run time for the request's batch is below
   * this runs on the main thread anyway. Handing a request to a worker and back costs tens of
   * microseconds, more than a tiny model's whole run; blocking the loop for less than this is harmless.
   */
  inlineBelowMs: number;
}

export function parseServerRuntimeSettings(env: Env): ServerRuntimeSettings {
  return {
    shutdownGraceMs: readNumber(env, 'SHUTDOWN_GRACE_SECONDS', 25, { min: 0, max: 3600 }) * 1000,
    inferenceWorkers: readNumber(env, 'INFERENCE_WORKERS', defaultWorkers(), {
      min: 0,
      max: 256,
      integer: true,
    }),
    inlineBelowMs: readNumber(env, 'INFERENCE_INLINE_BELOW_MS', 0.5, { min: 0, max: 60_000 }),
  };
}

function defaultWorkers(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}
