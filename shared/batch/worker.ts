/**
 * The cloud side of a batch job, one call per platform event, over the same steps as the CLI:
 * `plan` (BatchPlanner, planner.ts), `finish` (BatchFinisher, finisher.ts), `chunk` (one Distributed Map iteration, the
 * CLI's chunk worker), and `whole` (the object-created trigger for small inputs: the whole job in
 * one invocation). The adapters in functions/<cloud>/batch* only translate events.
 */
import { BadRequestError } from '../errors';
import { processChunk } from './chunk';
import { readJob } from './finisher';
import type { BatchJob, BatchSummary, ChunkMarker } from './job';
import { chunksOf, completedChunks, finishJob } from './job-files';
import { storeSource } from './lines';
import { BatchPlanner } from './planner';
import { loadBatchModel, runBatch } from './run';

export type { BatchWorkerSettings } from './finisher';
export type { PlannedJob } from './planner';

export class BatchWorker extends BatchPlanner {
  private loaded: Promise<Awaited<ReturnType<typeof loadBatchModel>>> | undefined;
  private loadedKey: string | undefined;

  async chunk(out: string, index: number): Promise<ChunkMarker> {
    const output = this.open(out);
    const job = await readJob(output);
    const chunk = chunksOf(job)[index];
    if (chunk === undefined)
      throw new BadRequestError(`${out}: the job has ${job.chunks} chunks, not ${index + 1}`);
    return processChunk(chunk, {
      job,
      source: storeSource(this.open(job.input.location), job.input.key),
      output,
      model: await this.model(job),
      limits: { maxTensorElements: this.settings.maxTensorElements },
      ...(this.settings.batchRows === undefined ? {} : { batchRows: this.settings.batchRows }),
    });
  }

  /**
   * For fan-outs without a join step (a queue per chunk): the chunk, then the finish when every
   * chunk's marker is there. Two last chunks may both finish; finishing is idempotent.
   */
  async chunkThenFinish(out: string, index: number): Promise<BatchSummary | undefined> {
    await this.chunk(out, index);
    const output = this.open(out);
    const job = await readJob(output);
    const done = await completedChunks(output);
    return done.size >= job.chunks ? finishJob(output, job, new Date()) : undefined;
  }

  /** The whole job in this invocation (small inputs); resumes what an earlier attempt did. */
  async whole(folder: string, key: string): Promise<BatchSummary> {
    const output = this.open(this.outputOf(key));
    const source = storeSource(this.open(folder), key);
    const result = await runBatch({
      ...(await this.request(folder, key)),
      source,
      output,
      load: (job) => this.model(job),
      limits: { maxTensorElements: this.settings.maxTensorElements },
      ...(this.settings.batchRows === undefined ? {} : { batchRows: this.settings.batchRows }),
    });
    return result.summary;
  }

  /** One loaded version per warm instance: the map's iterations of a job share it. */
  private model(job: BatchJob) {
    const key = `${job.model}@${job.version}`;
    if (this.loaded === undefined || this.loadedKey !== key) {
      this.loadedKey = key;
      this.loaded = loadBatchModel(this.repository, job.model, job.version, this.settings.verifyManifest);
      this.loaded.catch(() => {
        if (this.loadedKey === key) this.loaded = undefined;
      });
    }
    return this.loaded;
  }
}
