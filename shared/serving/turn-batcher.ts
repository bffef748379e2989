/**
 * The server's inline runs (models faster than a worker hop), batched per event-loop turn: the
 * first call of a turn runs at once, and the calls that follow it in the same turn (the loop is
 * reading the sockets of other clients) wait for the end of the turn, where those for one loaded
 * version run as one `session.run` and each request gets its own rows back. Nothing waits for
 * company: alone, a request runs at once; under load, it waits at most for the turn it arrived in.
 * This is Triton's dynamic batching with no queue delay. Under concurrent load a tiny model's run
 * is mostly fixed cost, so sharing it is what lets the server keep up with a hand-written one
 * (measured in bench/analysis.md). Whether calls share a run is row-independence.ts's call: they
 * must stack (merged-calls.ts), the version's first shared run is checked against its calls run
 * alone, and a shared run the graph refuses sends each call alone, so a bad request fails only
 * itself.
 */
import type { Logger } from '../telemetry/log';
import type { InferCall } from '../tensor/types';
import { type InferenceEngine, type RunResult, rowsOf } from './engine';
import { runInference } from './inference';
import type { LoadedModel } from './loaded-model';
import { RowIndependence } from './row-independence';

/** Rows in one shared run: beyond this the calls of a turn are split into several runs. */
export const MAX_TURN_BATCH_ROWS = 256;

interface Waiting {
  call: InferCall;
  rows: number;
  resolve(result: RunResult): void;
  reject(err: unknown): void;
}

export interface TurnBatcherOptions {
  /** One run, inline (tests count and fail them). */
  run?: (model: LoadedModel, call: InferCall) => Promise<RunResult>;
  /** When the turn's calls run (tests drive it by hand). */
  defer?: (flush: () => void) => void;
  maxRows?: number;
  log?: Logger;
}

export class TurnBatcher {
  private waiting = new Map<LoadedModel, Waiting[]>();
  /** A call ran in this turn: the next ones wait for its end. */
  private turnOpen = false;
  private readonly runOne: (model: LoadedModel, call: InferCall) => Promise<RunResult>;
  private readonly defer: (flush: () => void) => void;
  private readonly maxRows: number;
  private readonly rows: RowIndependence;

  constructor(options: TurnBatcherOptions = {}) {
    this.runOne = options.run ?? runInference;
    this.defer = options.defer ?? setImmediate;
    this.maxRows = options.maxRows ?? MAX_TURN_BATCH_ROWS;
    this.rows = new RowIndependence(options.log);
  }

  run(model: LoadedModel, call: InferCall, rows: number): Promise<RunResult> {
    if (!this.turnOpen) {
      this.turnOpen = true;
      this.defer(() => this.flush());
      return this.start(model, call);
    }
    return new Promise((resolve, reject) => {
      const queue = this.waiting.get(model);
      const entry = { call, rows, resolve, reject };
      if (queue === undefined) this.waiting.set(model, [entry]);
      else queue.push(entry);
    });
  }

  private flush(): void {
    this.turnOpen = false;
    const turn = this.waiting;
    this.waiting = new Map();
    for (const [model, queue] of turn) {
      for (const group of groupsOf(queue, this.maxRows)) this.runGroup(model, group);
    }
  }

  private runGroup(model: LoadedModel, group: readonly Waiting[]): void {
    if (group.length === 1) {
      this.runEach(model, group);
      return;
    }
    const calls = group.map((entry) => entry.call);
    void this.rows
      .share(model, calls, (call) => this.start(model, call))
      .then((outcomes) => {
        if (outcomes === undefined) {
          this.runEach(model, group);
          return;
        }
        for (const [index, outcome] of outcomes.entries()) {
          if (outcome.result !== undefined) group[index]?.resolve(outcome.result);
          else group[index]?.reject(outcome.error);
        }
      });
  }

  private runEach(model: LoadedModel, group: readonly Waiting[]): void {
    for (const entry of group) this.start(model, entry.call).then(entry.resolve, entry.reject);
  }

  /** A run's failure as a rejection, even a synchronous throw: flush runs outside any request. */
  private start(model: LoadedModel, call: InferCall): Promise<RunResult> {
    try {
      return this.runOne(model, call);
    } catch (err) {
      return Promise.reject(err);
    }
  }
}

/** An engine whose runs share turns: for a platform that hands one instance several requests at once. */
export function turnBatchingEngine(log?: Logger): InferenceEngine {
  const turns = new TurnBatcher(log === undefined ? {} : { log });
  return { run: (model, call) => turns.run(model, call, rowsOf(call)) };
}

/** Consecutive calls of at most `maxRows` rows together (a call above it runs alone). */
export function groupsOf<T extends { rows: number }>(queue: readonly T[], maxRows: number): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let rows = 0;
  for (const entry of queue) {
    if (current.length > 0 && rows + entry.rows > maxRows) {
      groups.push(current);
      current = [];
      rows = 0;
    }
    current.push(entry);
    rows += entry.rows;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
