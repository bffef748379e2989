/**
 * Whether a loaded version's rows can share a run. A variable first axis is not always a batch: a
 * sequence model may read it as time steps, and a graph may mix rows (a mean over axis 0). So the
 * first shared run of a version is checked against its calls run alone (the callers answer from
 * those runs), and the version shares runs from then on only if every answer was the same, bit
 * for bit. Used by the server's turn batches (turn-batcher.ts) and streamed records
 * (records/stream-batch.ts).
 */
import type { Logger } from '../telemetry/log';
import { sameOutputs } from '../tensor/compare';
import type { InferCall } from '../tensor/types';
import type { RunResult } from './engine';
import type { LoadedModel } from './loaded-model';
import { mergeCalls, splitOutputs } from './merged-calls';

export class RowIndependence {
  private readonly verdicts = new WeakMap<LoadedModel, boolean>();

  constructor(private readonly log?: Logger) {}

  private decide(model: LoadedModel, independent: boolean, why: string): void {
    if (this.verdicts.get(model) === independent) return;
    this.verdicts.set(model, independent);
    const version = { model: model.name, version: model.version };
    if (independent) this.log?.info('calls of this version now share runs', version);
    else this.log?.info(`calls of this version run one by one: ${why}`, version);
  }

  /**
   * `calls` of one version as one shared run, each call's result (or error) in order; undefined
   * when they must run one by one instead (they cannot be stacked, the version's rows are known
   * not to be independent, the shared run failed, or its outputs have no batch axis). The first
   * shared run of a version is checked: its calls also run alone, and those runs are the results.
   */
  async share(
    model: LoadedModel,
    calls: readonly InferCall[],
    run: (call: InferCall) => Promise<RunResult>,
  ): Promise<SharedOutcome[] | undefined> {
    const independent = this.verdicts.get(model);
    const merged = calls.length > 1 && independent !== false ? mergeCalls(model, calls) : undefined;
    if (merged === undefined) return undefined;
    let shared: RunResult;
    try {
      shared = await run(merged.call);
    } catch {
      return undefined;
    }
    const split = splitOutputs(shared.outputs, merged.rows);
    if (split === undefined) {
      this.decide(model, false, 'its outputs have no batch axis to cut');
      return undefined;
    }
    if (independent === true) {
      return split.map((outputs) => ({ result: { outputs, runMs: shared.runMs }, batchRows: merged.total }));
    }
    const alone = await Promise.all(
      calls.map((call, index) =>
        run(call).then(
          (result): SharedOutcome => ({ result, batchRows: merged.rows[index] ?? 0 }),
          (error: unknown): SharedOutcome => ({ error }),
        ),
      ),
    );
    const same = alone.every(
      (outcome, index) =>
        outcome.result !== undefined && sameOutputs(outcome.result.outputs, split[index] ?? []),
    );
    this.decide(model, same, same ? '' : 'a shared run answered differently from runs alone');
    return alone;
  }
}

/** One call's part of `share`: its result and the rows of the run that gave it, or its error. */
export type SharedOutcome =
  | { result: RunResult; batchRows: number; error?: never }
  | { error: unknown; result?: never; batchRows?: never };
