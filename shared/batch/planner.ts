/**
 * The `plan` step of a cloud batch job (a Step Functions state, or a workflow step): the job and
 * its chunks, for the stage's version, without loading the model. BatchWorker (worker.ts) adds
 * the scoring steps; the plan function uses this class alone, so that its bundle leaves out the
 * scoring path (protocol parsers, model cache, onnxruntime) and its package onnxruntime's binaries.
 */
import { BadRequestError } from '../errors';
import { ModelRepository } from '../repository/repository';
import { openStore } from '../store';
import { BatchFinisher, type BatchWorkerSettings } from './finisher';
import { formatOfName, PLAN_KEY } from './job';
import { batchTarget, describeInput, type JobRequest, startJob } from './job-files';
import { storeSource } from './lines';

export interface PlannedJob {
  /** Output location (store URL) of the job; the map items carry it. */
  out: string;
  /** The plan's own location, for a map that reads its items from the store. */
  plan: string;
  chunks: number;
  resumed: boolean;
}

export class BatchPlanner extends BatchFinisher {
  protected readonly repository: ModelRepository;

  constructor(settings: BatchWorkerSettings) {
    super(settings);
    this.repository = new ModelRepository(openStore(settings.repository, settings.store));
  }

  async plan(folder: string, key: string): Promise<PlannedJob> {
    const out = this.outputOf(key);
    const output = this.open(out);
    const { job, resumed } = await startJob(output, await this.request(folder, key));
    return { out, plan: `${out}/${PLAN_KEY}`, chunks: job.chunks, resumed };
  }

  protected async request(folder: string, key: string): Promise<JobRequest> {
    const format = formatOfName(key);
    if (format === undefined) throw new BadRequestError(`${key}: expected a .csv, .jsonl or .parquet object`);
    const source = storeSource(this.open(folder), key);
    const { model, stage, version } = this.settings;
    return {
      input: await describeInput(source, folder, key, format),
      model,
      stage,
      chunkBytes: this.settings.chunkBytes,
      target: () => batchTarget(this.repository, model, stage, version),
      now: new Date(),
    };
  }
}
