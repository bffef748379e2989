/**
 * The chunk worker: one byte range of the input in, its part file and completion marker out. The
 * CLI runs it for each chunk in turn; each Step Functions map iteration (functions/aws/batch/chunk.ts)
 * runs it for one. Part first, marker last: a chunk without a marker is simply done again, and
 * its part is overwritten whole, so a killed run never loses or repeats a row.
 */
import { BadRequestError } from '../errors';
import type { Limits } from '../protocol/oip';
import type { InferenceEngine } from '../serving/engine';
import type { LoadedModel } from '../serving/loaded-model';
import type { ModelStore } from '../store';
import { scoreCsvLines } from './csv-columns';
import type { BatchJob, ChunkError, ChunkMarker, ChunkRange } from './job';
import { batchPipeline, partLines, writeChunk } from './job-files';
import { type ByteSource, LineBatch, lineBlocksInRange } from './lines';
import { processParquetChunk } from './parquet-chunk';
import { decodeRow } from './rows';
import { type RowOutcome, scoreRows } from './score';

export const DEFAULT_BATCH_ROWS = 4096;

export interface ChunkContext {
  job: BatchJob;
  source: ByteSource;
  output: ModelStore;
  model: LoadedModel;
  limits: Limits;
  /** Rows per session.run. */
  batchRows?: number;
  /**
   * Where the runs happen (default: inline). With a worker thread the next batch is read and
   * decoded while the worker runs this one.
   */
  engine?: InferenceEngine;
  /** Called after each run with the rows scored and the input offset reached. */
  onProgress?: (rows: number, offset: number) => void;
}

export async function processChunk(chunk: ChunkRange, context: ChunkContext): Promise<ChunkMarker> {
  const { job, model } = context;
  if (model.name !== job.model || model.version !== job.version) {
    throw new BadRequestError(
      `chunk ${chunk.index}: the job scores ${job.model} version ${job.version}, not ${model.name} version ${model.version}`,
    );
  }
  const batchRows = context.batchRows ?? DEFAULT_BATCH_ROWS;
  if (job.input.format === 'parquet') return processParquetChunk(chunk, { ...context, batchRows });
  // Each batch's lines become bytes at once, so the per-row strings die young (no old-space GC).
  const parts: Buffer[] = [];
  let rows = 0;
  const errors: ChunkError[] = [];
  let batch = new LineBatch();
  // scoreLines decodes its lines and hands the run to the engine before its first await, so a
  // worker thread runs batch k while batch k + 1 is read.
  const pipeline = batchPipeline();
  const flush = () => {
    const lines = batch;
    batch = new LineBatch();
    return pipeline.add(scoreLines(lines, context), (outcomes) => {
      parts.push(partLines(outcomes, rows, (i) => lines.offset(i), errors));
      rows += outcomes.length;
      context.onProgress?.(lines.length, lines.offset(lines.length - 1) + 1);
    });
  };
  for await (const block of lineBlocksInRange(context.source, chunk.start, chunk.end)) {
    for (let from = 0; from < block.starts.length; ) {
      const to = Math.min(block.starts.length, from + batchRows - batch.length);
      batch.add(block, from, to);
      from = to;
      if (batch.length >= batchRows) await flush();
    }
  }
  if (batch.length > 0) await flush();
  await pipeline.drain();
  return writeChunk(context.output, chunk.index, Buffer.concat(parts), { rows, errors });
}

/** CSV lines take the columnar path; JSON lines are decoded one by one. */
function scoreLines(lines: LineBatch, { job, model, limits, engine }: ChunkContext): Promise<RowOutcome[]> {
  const { format, header } = job.input;
  if (format === 'csv' && header !== undefined) return scoreCsvLines(model, lines, header, limits, engine);
  return scoreRows(
    model,
    lines.texts().map((text) => decodeRow(text, format, header)),
    limits,
    engine,
  );
}
