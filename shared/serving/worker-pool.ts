import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ServiceUnavailableError } from '../errors';
import type { Logger } from '../telemetry/log';
import type { InferCall } from '../tensor/types';
import {
  type InferenceEngine,
  observeRun,
  type RunResult,
  type RunTimeEstimate,
  rowsOf,
  runsInline,
} from './engine';
import { buildFeeds, collectOutputs, runFailure } from './inference';
import type { LoadedModel } from './loaded-model';
import { TurnBatcher } from './turn-batcher';
import type { FromWorker, ToWorker, WireTensor } from './worker-protocol';

export interface WorkerPoolOptions {
  /** Worker threads; 0 makes the pool an inline engine. */
  size: number;
  /** Calls predicted to run faster than this stay on the main thread (engine.ts runsInline). */
  inlineBelowMs: number;
  log: Logger;
  /** The compiled worker script; tests pass a bundle of serving/inference-worker.ts. */
  workerFile?: string;
  /** Replacements allowed per `RESTART_WINDOW_MS` (default 3); past it a dead worker stays dead. */
  restartsPerWindow?: number;
  now?: () => number;
}

export const RESTART_WINDOW_MS = 60_000;

/** The compiled worker script beside this module (dist/shared/serving/inference-worker.js). */
export function defaultWorkerFile(): string {
  return path.join(__dirname, 'inference-worker.js');
}

/**
 * Whether a worker that just died is replaced, given when earlier replacements happened: a worker
 * that dies at every start (a model that crashes onnxruntime, say) must not become a restart loop.
 */
export function mayReplaceWorker(replacedAt: readonly number[], now: number, perWindow: number): boolean {
  return replacedAt.filter((at) => now - at < RESTART_WINDOW_MS).length < perWindow;
}

interface Job {
  message: ToWorker & { job: number };
  resolve(reply: FromWorker, worker: number): void;
  reject(err: Error): void;
}

interface Slot {
  /** Its number in start order, for spans. */
  index: number;
  worker: Worker;
  /** The job this worker is on; one at a time, so a slow run never queues another behind it. */
  busy: Job | undefined;
  /** Loads and releases go to every worker, ahead of queued runs. */
  pending: Job[];
}

/**
 * `session.run` on worker threads, each holding its own session of every loaded version. Runs wait
 * in one queue and go to whichever worker is free; loads go to every worker. Inputs are copied
 * to the worker (the main thread keeps them for capture and the shadow), outputs come back as
 * transferred buffers. Models whose runs are shorter than the hop run inline on the main thread's
 * session (runsInline), the calls of one event-loop turn together (turn-batcher.ts). A worker that
 * dies fails its job with a 503 and is replaced by a new one that loads every model first (a few
 * times a minute at most, mayReplaceWorker); meanwhile the others serve, and with none left runs
 * go inline.
 */
export class WorkerPoolEngine implements InferenceEngine {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly ids = new WeakMap<LoadedModel, number>();
  private readonly estimates = new WeakMap<LoadedModel, RunTimeEstimate>();
  /** What a replacement worker loads: every model the workers hold, by id. */
  private readonly artifacts = new Map<number, Uint8Array>();
  private readonly replacedAt: number[] = [];
  /** The inline runs: one shared run per loaded version per event-loop turn. */
  private readonly turns: TurnBatcher;
  private readonly file: string;
  private nextSlot = 0;
  private nextModel = 1;
  private nextJob = 1;
  private closing = false;
  /** Runs answered by a worker (the rest ran inline). */
  workerRuns = 0;

  constructor(private readonly options: WorkerPoolOptions) {
    this.turns = new TurnBatcher({ log: options.log });
    this.file = options.workerFile ?? defaultWorkerFile();
    for (let i = 0; i < options.size; i++) this.slots.push(this.spawn());
  }

  get size(): number {
    return this.slots.length;
  }

  async prepare(model: LoadedModel, artifact: Uint8Array): Promise<void> {
    if (this.slots.length === 0) return;
    const id = this.nextModel++;
    const replies = await Promise.all(
      this.slots.map((slot) => this.send(slot, { kind: 'load', job: this.nextJob++, model: id, artifact })),
    );
    const failed = replies.find((reply) => reply.kind === 'failed');
    if (failed?.kind === 'failed') {
      this.release(model, id);
      throw new ServiceUnavailableError(`a worker could not load the model: ${failed.message}`);
    }
    this.ids.set(model, id);
    this.artifacts.set(id, artifact);
  }

  release(model: LoadedModel, id = this.ids.get(model)): void {
    if (id === undefined) return;
    this.ids.delete(model);
    this.artifacts.delete(id);
    for (const slot of this.slots) slot.worker.postMessage({ kind: 'release', model: id } satisfies ToWorker);
  }

  run(model: LoadedModel, call: InferCall): Promise<RunResult> {
    const id = this.ids.get(model);
    const rows = rowsOf(call);
    if (
      id === undefined ||
      this.slots.length === 0 ||
      runsInline(this.estimates.get(model), rows, this.options.inlineBelowMs)
    ) {
      // Not measured here: the run waits for the end of the turn (turn-batcher.ts), so on a busy
      // main thread the time includes every I/O callback ahead of it, and the estimate would swing
      // the model back to the workers. A worker's loop is idle: its times are the run's own.
      return this.turns.run(model, call, rows);
    }
    return this.runOnWorker(model, id, call, rows);
  }

  private async runOnWorker(
    model: LoadedModel,
    id: number,
    call: InferCall,
    rows: number,
  ): Promise<RunResult> {
    const feeds: Record<string, WireTensor> = {};
    for (const [name, tensor] of Object.entries(buildFeeds(model, call))) {
      feeds[name] = { type: tensor.type, dims: tensor.dims, data: tensor.data };
    }
    const { reply, worker } = await this.enqueue({
      kind: 'run',
      job: this.nextJob++,
      model: id,
      feeds,
      outputs: call.outputs,
    });
    if (reply.kind === 'failed') {
      throw reply.runFailed
        ? runFailure(new Error(reply.message))
        : new ServiceUnavailableError(reply.message);
    }
    if (reply.kind !== 'ran') throw new ServiceUnavailableError('unexpected reply from an inference worker');
    this.estimates.set(model, observeRun(this.estimates.get(model), reply.runMs, rows));
    this.workerRuns += 1;
    const span = { startedAt: reply.startedAt, endedAt: reply.endedAt, worker };
    return { outputs: collectOutputs(reply.results, call), runMs: reply.runMs, span };
  }

  /** Stops the workers; jobs still queued fail with a 503. Call after the server has drained. */
  async close(): Promise<void> {
    this.closing = true;
    for (const job of this.queue.splice(0)) job.reject(new ServiceUnavailableError('the server is stopping'));
    await Promise.all(this.slots.splice(0).map((slot) => slot.worker.terminate()));
  }

  private spawn(): Slot {
    const worker = new Worker(this.file);
    const slot: Slot = { index: this.nextSlot++, worker, busy: undefined, pending: [] };
    worker.on('message', (reply: FromWorker) => {
      const job = slot.busy;
      slot.busy = undefined;
      job?.resolve(reply, slot.index);
      this.dispatch(slot);
    });
    worker.on('error', (err) => this.lose(slot, err));
    worker.on('exit', (code) => this.lose(slot, new Error(`inference worker exited with code ${code}`)));
    return slot;
  }

  private lose(slot: Slot, err: Error): void {
    const at = this.slots.indexOf(slot);
    if (at < 0) return;
    this.slots.splice(at, 1);
    if (!this.closing)
      this.options.log.error('inference worker stopped', { error: err.message, left: this.slots.length });
    const failure = new ServiceUnavailableError('the inference worker running this request stopped', {
      cause: err,
    });
    for (const job of [slot.busy, ...slot.pending.splice(0)]) job?.reject(failure);
    slot.busy = undefined;
    if (!this.closing && this.replace()) return;
    // Runs still queued go to the other workers, or fail if none is left.
    if (this.slots.length === 0) for (const job of this.queue.splice(0)) job.reject(failure);
  }

  /** A new worker in place of a dead one, loading every model before it takes a run. */
  private replace(): boolean {
    const now = (this.options.now ?? Date.now)();
    if (!mayReplaceWorker(this.replacedAt, now, this.options.restartsPerWindow ?? 3)) return false;
    this.replacedAt.push(now);
    const slot = this.spawn();
    this.slots.push(slot);
    for (const [model, artifact] of this.artifacts) {
      // Loads sit in the slot's own queue, ahead of runs: the worker has each model before a run.
      void this.send(slot, { kind: 'load', job: this.nextJob++, model, artifact }).then(
        (reply) => {
          if (reply.kind === 'failed') {
            this.options.log.error('a replacement inference worker could not load a model', {
              error: reply.message,
            });
            void slot.worker.terminate();
          }
        },
        () => undefined,
      );
    }
    this.options.log.warn('inference worker replaced', { workers: this.slots.length });
    return true;
  }

  /** A load or release for this worker in particular. */
  private send(slot: Slot, message: ToWorker & { job: number }): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      slot.pending.push({ message, resolve, reject });
      this.dispatch(slot);
    });
  }

  private enqueue(message: ToWorker & { job: number }): Promise<{ reply: FromWorker; worker: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve: (reply, worker) => resolve({ reply, worker }), reject });
      const idle = this.slots.find((slot) => slot.busy === undefined);
      if (idle !== undefined) this.dispatch(idle);
    });
  }

  private dispatch(slot: Slot): void {
    if (slot.busy !== undefined) return;
    const job = slot.pending.shift() ?? this.queue.shift();
    if (job === undefined) return;
    slot.busy = job;
    slot.worker.postMessage(job.message);
  }
}
