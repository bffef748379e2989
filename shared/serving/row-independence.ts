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
import type { OutputTensor } from '../tensor/types';
import type { LoadedModel } from './loaded-model';

export class RowIndependence {
  private readonly verdicts = new WeakMap<LoadedModel, boolean>();

  constructor(private readonly log?: Logger) {}

  /** undefined until a shared run of the version has been checked. */
  of(model: LoadedModel): boolean | undefined {
    return this.verdicts.get(model);
  }

  decide(model: LoadedModel, independent: boolean, why: string): void {
    if (this.verdicts.get(model) === independent) return;
    this.verdicts.set(model, independent);
    const version = { model: model.name, version: model.version };
    if (independent) this.log?.info('calls of this version now share runs', version);
    else this.log?.info(`calls of this version run one by one: ${why}`, version);
  }

  /** The verdict from a shared run's split outputs and the same calls' outputs alone. */
  check(
    model: LoadedModel,
    shared: readonly (readonly OutputTensor[])[],
    alone: readonly (readonly OutputTensor[] | undefined)[],
  ): void {
    const same = alone.every(
      (outputs, index) => outputs !== undefined && sameOutputs(outputs, shared[index] ?? []),
    );
    this.decide(model, same, same ? '' : 'a shared run answered differently from runs alone');
  }
}
