/**
 * A batch job's steps: start (plan, or resume a stored job), the chunks (processChunk), finish.
 * `runBatch` runs them all on one machine (the CLI, and the cloud's small-file trigger); the
 * Distributed Map runs the same steps as separate invocations (functions/aws/batch/). The steps
 * that need no model are in job-files.ts; they are exported here too, for the CLI and the bench.
 */
import type { Limits } from '../protocol/oip';
import type { Manifest } from '../repository/manifest';
import type { ModelRepository } from '../repository/repository';
import type { InferenceEngine } from '../serving/engine';
import type { LoadedModel } from '../serving/loaded-model';
import { ModelCache } from '../serving/model-cache';
import type { ModelStore } from '../store';
import { processChunk } from './chunk';
import type { BatchJob, BatchSummary, ChunkMarker } from './job';
import { chunksOf, completedChunks, finishJob, type JobRequest, startJob } from './job-files';
import type { ByteSource } from './lines';

export {
  batchTarget,
  chunksOf,
  completedChunks,
  describeInput,
  finishJob,
  type JobRequest,
  PINNED_VARIANT,
  startJob,
} from './job-files';

/** The version loaded and checked as serving loads it (integrity, signature policy). */
export async function loadBatchModel(
  repository: ModelRepository,
  model: string,
  version: number,
  verifyManifest?: (manifest: Manifest) => void,
  engine?: InferenceEngine,
): Promise<LoadedModel> {
  const cache = new ModelCache(repository, 1, {
    ...(verifyManifest === undefined ? {} : { verifyManifest }),
    ...(engine === undefined ? {} : { engine }),
  });
  return (await cache.get(model, version)).model;
}

export interface BatchProgress {
  rows: number;
  /** Input bytes behind us (skipped chunks included) and in all. */
  bytes: number;
  totalBytes: number;
  chunksDone: number;
  chunks: number;
}

export interface BatchRun extends JobRequest {
  source: ByteSource;
  output: ModelStore;
  load: (job: BatchJob) => Promise<LoadedModel>;
  limits: Limits;
  batchRows?: number;
  /** Where the runs happen (chunk.ts ChunkContext.engine); the model must be loaded for it. */
  engine?: InferenceEngine;
  onProgress?: (progress: BatchProgress) => void;
  /** Called when a chunk is done (tests stop a run here). */
  onChunk?: (marker: ChunkMarker) => void;
}

export async function runBatch(
  run: BatchRun,
): Promise<{ summary: BatchSummary; resumed: boolean; skipped: number; ran: number }> {
  const { job, resumed } = await startJob(run.output, run);
  const done = await completedChunks(run.output);
  const model = await run.load(job);
  const progress: BatchProgress = {
    rows: 0,
    bytes: job.input.dataStart,
    totalBytes: job.input.size,
    chunksDone: 0,
    chunks: job.chunks,
  };
  let ran = 0;
  for (const chunk of chunksOf(job)) {
    if (done.has(chunk.index)) {
      progress.bytes += chunk.end - chunk.start;
      progress.chunksDone++;
      continue;
    }
    const marker = await processChunk(chunk, {
      job,
      source: run.source,
      output: run.output,
      model,
      limits: run.limits,
      ...(run.batchRows === undefined ? {} : { batchRows: run.batchRows }),
      ...(run.engine === undefined ? {} : { engine: run.engine }),
      onProgress: (rows, offset) => {
        progress.rows += rows;
        progress.bytes = Math.max(progress.bytes, Math.min(offset, chunk.end));
        run.onProgress?.(progress);
      },
    });
    progress.bytes = chunk.end;
    progress.chunksDone++;
    ran++;
    run.onProgress?.(progress);
    run.onChunk?.(marker);
  }
  const summary = await finishJob(run.output, job, new Date());
  return { summary, resumed, skipped: job.chunks - ran, ran };
}
