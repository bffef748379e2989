/**
 * The chunk worker for a Parquet input (processChunk hands it the chunk): its row groups one at a
 * time, `batchRows` rows per session.run, then the part and the marker exactly as for the line
 * formats. A row's errors.jsonl "offset" is its row number in the file.
 */
import { BadRequestError, ConflictError } from '../errors';
import type { Limits } from '../protocol/oip';
import type { InferenceEngine } from '../serving/engine';
import type { LoadedModel } from '../serving/loaded-model';
import type { ModelStore } from '../store';
import { matrixLayout, scoreMatrix } from './csv-columns';
import type { BatchJob, ChunkError, ChunkMarker, ChunkRange } from './job';
import { batchPipeline, partLines, writeChunk } from './job-files';
import type { ByteSource } from './lines';
import { cellOf, columnNames, readFooter, readRowGroup } from './parquet';
import type { BatchRow } from './rows';
import { type RowOutcome, scoreRows } from './score';

/** What processChunk's context gives (kept structural: chunk.ts imports this file). */
export interface ParquetChunkContext {
  job: BatchJob;
  source: ByteSource;
  output: ModelStore;
  model: LoadedModel;
  limits: Limits;
  batchRows: number;
  engine?: InferenceEngine;
  onProgress?: (rows: number, offset: number) => void;
}

export async function processParquetChunk(
  chunk: ChunkRange,
  context: ParquetChunkContext,
): Promise<ChunkMarker> {
  const { job } = context;
  const groups = chunk.rowGroups;
  const layout = job.input.parquet;
  if (groups === undefined || chunk.rows === undefined || layout === undefined) {
    throw new BadRequestError(`chunk ${chunk.index}: a Parquet chunk names its row groups`);
  }
  const { metadata, size } = await readFooter(context.source, job.input.key);
  const names = job.input.header ?? [];
  const found = columnNames(metadata);
  if (
    size !== job.input.size ||
    found.join('\u0000') !== names.join('\u0000') ||
    metadata.row_groups.length !== layout.rowGroups.length ||
    metadata.row_groups.some((group, i) => Number(group.num_rows) !== layout.rowGroups[i]?.rows)
  ) {
    throw new ConflictError(
      `${job.input.key}: the file changed since the job was planned (its size, columns or row groups differ); score it into a new output`,
    );
  }
  const file = { source: context.source, size, metadata, key: job.input.key };
  const parts: Buffer[] = [];
  // A worker thread runs batch k while batch k + 1 is decoded (and the next row group read).
  const pipeline = batchPipeline();
  let written = 0;
  const errors: ChunkError[] = [];
  let groupStart = chunk.rows.first;
  for (let group = groups.first; group < groups.end; group++) {
    const rows = layout.rowGroups[group]?.rows ?? 0;
    if (rows > 0) {
      const columns = await readRowGroup(file, { index: group, rowStart: groupStart, rows }, names);
      for (let from = 0; from < rows; from += context.batchRows) {
        const count = Math.min(context.batchRows, rows - from);
        const first = groupStart + from;
        await pipeline.add(scoreBatch(columns, from, count, context), (outcomes) => {
          parts.push(partLines(outcomes, written, (i) => first + i, errors));
          written += outcomes.length;
          context.onProgress?.(count, progressOffset(chunk, first + count));
        });
      }
    }
    groupStart += rows;
  }
  await pipeline.drain();
  return writeChunk(context.output, chunk.index, Buffer.concat(parts), { rows: written, errors });
}

/**
 * A batch whose values are all numbers goes to the model as one matrix (csv-columns.ts
 * scoreMatrix, the checks of the tensor decoder); any other batch, or one the decoder refuses,
 * row by row through the general path, which names each bad row.
 */
async function scoreBatch(
  columns: ArrayLike<unknown>[],
  from: number,
  count: number,
  { job, model, limits, engine }: ParquetChunkContext,
): Promise<RowOutcome[]> {
  const names = job.input.header ?? [];
  const layout = matrixLayout(names, model);
  const values = numericMatrix(columns, from, count, layout.positions);
  const lines = values && (await scoreMatrix(model, values, count, names, layout, limits, engine));
  if (lines !== undefined) return lines;
  const batch = Array.from({ length: count }, (_, i) => rowOf(columns, from + i, names));
  return scoreRows(model, batch, limits, engine);
}

/** Rows [from, from + count) of the columns as one row-major matrix, or undefined unless all numbers. */
function numericMatrix(
  columns: ArrayLike<unknown>[],
  from: number,
  count: number,
  positions: readonly number[],
): Float64Array | undefined {
  const width = positions.length;
  const values = new Float64Array(count * width);
  for (let column = 0; column < width; column++) {
    const data = columns[column];
    const at = positions[column] as number;
    if (data === undefined) return undefined;
    for (let row = 0; row < count; row++) {
      const value = data[from + row];
      if (typeof value !== 'number') return undefined;
      values[row * width + at] = value;
    }
  }
  return values;
}

/** A row's cells, or the error of its first value that has no cell (an int64 beyond 2^53). */
function rowOf(columns: ArrayLike<unknown>[], row: number, names: readonly string[]): BatchRow | Error {
  const cells = new Array<unknown>(columns.length);
  try {
    for (let j = 0; j < columns.length; j++) cells[j] = cellOf(columns[j]?.[row], names[j] ?? '');
  } catch (err) {
    if (err instanceof BadRequestError) return err;
    throw err;
  }
  return { kind: 'columns', names, cells };
}

/** The byte position progress has reached: the chunk's bytes in proportion to its rows done. */
function progressOffset(chunk: ChunkRange, rowsDone: number): number {
  const first = chunk.rows?.first ?? 0;
  const total = (chunk.rows?.end ?? 0) - first;
  const share = total === 0 ? 1 : (rowsDone - first) / total;
  return chunk.start + Math.floor((chunk.end - chunk.start) * share);
}
