/**
 * The chunk worker: one byte range of the input in, its part file and completion marker out. The
 * CLI runs it for each chunk in turn; each Step Functions map iteration (functions/aws/batch.ts)
 * runs it for one. Part first, marker last: a chunk without a marker is simply done again, and
 * its part is overwritten whole, so a killed run never loses or repeats a row.
 */
import { BadRequestError } from '../errors';
import type { Limits } from '../protocol/oip';
import type { LoadedModel } from '../serving/loaded-model';
import type { ModelStore } from '../store';
import { type BatchJob, type ChunkError, type ChunkMarker, type ChunkRange, markerKey, partKey } from './job';
import { type ByteSource, linesInRange } from './lines';
import { processParquetChunk } from './parquet-chunk';
import { type BatchRow, decodeLine } from './rows';
import { scoreRows } from './score';

export const DEFAULT_BATCH_ROWS = 4096;

export interface ChunkContext {
  job: BatchJob;
  source: ByteSource;
  output: ModelStore;
  model: LoadedModel;
  limits: Limits;
  /** Rows per session.run. */
  batchRows?: number;
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
  const lines: string[] = [];
  const errors: ChunkError[] = [];
  let rows: (BatchRow | Error)[] = [];
  let offsets: number[] = [];
  const flush = async () => {
    const outcomes = await scoreRows(model, rows, context.limits);
    outcomes.forEach((outcome, i) => {
      if ('line' in outcome) lines.push(outcome.line);
      else {
        errors.push({ row: lines.length, offset: offsets[i] ?? 0, error: outcome.error });
        lines.push('null');
      }
    });
    context.onProgress?.(rows.length, (offsets[offsets.length - 1] ?? chunk.start) + 1);
    rows = [];
    offsets = [];
  };
  for await (const line of linesInRange(context.source, chunk.start, chunk.end)) {
    rows.push(decoded(line.text, job));
    offsets.push(line.offset);
    if (rows.length >= batchRows) await flush();
  }
  if (rows.length > 0) await flush();
  const part = lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  await context.output.put(partKey(chunk.index), Buffer.from(part), { contentType: 'application/x-ndjson' });
  const marker: ChunkMarker = { index: chunk.index, rows: lines.length, errors };
  await context.output.put(markerKey(chunk.index), Buffer.from(JSON.stringify(marker)), {
    contentType: 'application/json',
  });
  return marker;
}

function decoded(text: string, job: BatchJob): BatchRow | Error {
  try {
    return decodeLine(text, job.input.format, job.input.header);
  } catch (err) {
    if (err instanceof BadRequestError) return err;
    throw err;
  }
}
