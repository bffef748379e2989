/**
 * The smallest part of a cloud batch job: where a job's output is, and its `finish` step (the
 * state machine's last state). No model repository, no model: the finish function bundles this
 * alone. BatchPlanner (planner.ts) adds the plan, BatchWorker (worker.ts) the scoring steps.
 */
import { BadRequestError } from '../errors';
import type { Manifest } from '../repository/manifest';
import { type ModelStore, openStore, type StoreSettings } from '../store';
import { type BatchJob, type BatchSummary, JOB_KEY, parseJob } from './job';
import { finishJob } from './job-files';

export interface BatchWorkerSettings {
  repository: string;
  store: StoreSettings;
  /** Where outputs go: `<outputRoot>/<input name without extension>/`. */
  outputRoot: string;
  model: string;
  stage: string;
  /** Score with this version instead of the stage's primary. */
  version?: number;
  chunkBytes: number;
  /** Inputs smaller than this are scored whole by one invocation (`whole`), larger ones fanned out. */
  smallObjectBytes: number;
  batchRows?: number;
  maxTensorElements: number;
  verifyManifest?: (manifest: Manifest) => void;
}

export class BatchFinisher {
  constructor(protected readonly settings: BatchWorkerSettings) {}

  get smallObjectBytes(): number {
    return this.settings.smallObjectBytes;
  }

  /** Output location of an input object (`<folder URL>`, `<key>`): one folder per input name. */
  outputOf(key: string): string {
    const name =
      key
        .split('/')
        .pop()
        ?.replace(/\.[^.]*$/, '') ?? key;
    return `${this.settings.outputRoot.replace(/\/+$/, '')}/${name}`;
  }

  async finish(out: string): Promise<BatchSummary> {
    const output = this.open(out);
    return finishJob(output, await readJob(output), new Date());
  }

  protected open(location: string): ModelStore {
    return openStore(location, this.settings.store, 'batch location');
  }
}

export async function readJob(output: ModelStore): Promise<BatchJob> {
  const read = await output.get(JOB_KEY);
  if (read.status !== 'ok')
    throw new BadRequestError(`${output.url}: no batch job here (${JOB_KEY} is missing)`);
  return parseJob(read.body.toString('utf8'), `${output.url}/${JOB_KEY}`);
}
