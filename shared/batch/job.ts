/**
 * A batch job as stored beside its output: what is read (an object split into byte-range chunks, a
 * Parquet file into runs of whole row groups), which model version scores it, and where each
 * chunk's results go. The CLI and the cloud chunk workers (one per Step Functions map iteration)
 * share this layout, so either can resume the other.
 *
 *   <out>/_job.json            the job (written once, before any chunk)
 *   <out>/_plan.json           the chunks as a JSON array (what the Distributed Map iterates over)
 *   <out>/part-00000.jsonl     one line per input row of chunk 0, in order (null for a failed row)
 *   <out>/_chunks/00000.json   chunk 0's completion marker: rows, per-row errors
 *   <out>/errors.jsonl         every failed row: global row number, byte offset (Parquet: the row
 *                              number again), message
 *   <out>/_SUCCESS.json        written last: totals and the parts in order
 */
import { BadRequestError } from '../errors';

export type BatchFormat = 'csv' | 'jsonl' | 'parquet';

export interface ChunkRange {
  index: number;
  /**
   * First byte of the range; the chunk owns every row that starts in [start, end). For Parquet the
   * range only measures progress: the chunk owns the row groups (and rows) named below.
   */
  start: number;
  end: number;
  /** Parquet: the chunk's whole row groups, [first, end) in the file's order. */
  rowGroups?: { first: number; end: number };
  /** Parquet: the rows of those row groups, [first, end) counted from the file's first row. */
  rows?: { first: number; end: number };
}

/** A Parquet input's row groups as read from its footer, the unit its chunks are planned in. */
export interface ParquetLayout {
  rows: number;
  /** In file order: rows, first byte of the group's column chunks, compressed bytes. */
  rowGroups: { rows: number; start: number; bytes: number }[];
}

export interface BatchInput {
  /** Store location of the folder holding the object (a path or a store URL). */
  location: string;
  key: string;
  size: number;
  format: BatchFormat;
  /** CSV: the column names of the header row; rows start at `dataStart`. Parquet: its columns. */
  header?: string[];
  dataStart: number;
  /** Parquet: the row groups, what the chunks are planned over. */
  parquet?: ParquetLayout;
}

export interface BatchJob {
  kind: 'modelfleet-batch';
  input: BatchInput;
  model: string;
  version: number;
  variant: string;
  stage: string;
  chunkBytes: number;
  chunks: number;
  createdAt: string;
}

export interface ChunkError {
  /** Row number within the chunk (0-based); errors.jsonl gives the row number in the file. */
  row: number;
  /** Byte offset of the row in the input object (Parquet: the row's number in the file). */
  offset: number;
  error: string;
}

export interface ChunkMarker {
  index: number;
  rows: number;
  errors: ChunkError[];
}

export interface BatchSummary {
  job: BatchJob;
  rows: number;
  errors: number;
  parts: { key: string; index: number; firstRow: number; rows: number; errors: number }[];
  finishedAt: string;
}

export const JOB_KEY = '_job.json';
export const PLAN_KEY = '_plan.json';
export const ERRORS_KEY = 'errors.jsonl';
export const SUCCESS_KEY = '_SUCCESS.json';
export const MARKERS_DIR = '_chunks';

export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
const MIN_CHUNK_BYTES = 1024;

export const partKey = (index: number): string => `part-${pad(index)}.jsonl`;
export const markerKey = (index: number): string => `${MARKERS_DIR}/${pad(index)}.json`;

function pad(index: number): string {
  return String(index).padStart(5, '0');
}

/** Byte ranges of `chunkBytes` over the rows of an object (pure; the last one may be shorter). */
export function planChunks(dataStart: number, size: number, chunkBytes: number): ChunkRange[] {
  checkChunkBytes(chunkBytes);
  const chunks: ChunkRange[] = [];
  for (let start = dataStart, index = 0; start < size; start += chunkBytes, index++) {
    chunks.push({ index, start, end: Math.min(size, start + chunkBytes) });
  }
  return chunks;
}

export function checkChunkBytes(chunkBytes: number): void {
  if (!Number.isInteger(chunkBytes) || chunkBytes < MIN_CHUNK_BYTES) {
    throw new BadRequestError(
      `chunk size: expected a whole number of bytes >= ${MIN_CHUNK_BYTES}, got ${chunkBytes}`,
    );
  }
}

/** The format named by a file's extension (.csv, .jsonl/.ndjson/.json, .parquet), else undefined. */
export function formatOfName(name: string): BatchFormat | undefined {
  if (/\.csv$/i.test(name)) return 'csv';
  if (/\.parquet$/i.test(name)) return 'parquet';
  if (/\.(jsonl|ndjson|json)$/i.test(name)) return 'jsonl';
  return undefined;
}

/**
 * Why a stored job cannot be resumed by `wanted` (another input, model version or chunking), or
 * undefined when it is the same job. A resumed job keeps the version it started with.
 */
export function jobMismatch(
  stored: BatchJob,
  wanted: Omit<BatchJob, 'version' | 'variant' | 'createdAt' | 'chunks'>,
): string | undefined {
  const checks: [string, unknown, unknown][] = [
    ['input', `${stored.input.location}/${stored.input.key}`, `${wanted.input.location}/${wanted.input.key}`],
    ['input size', stored.input.size, wanted.input.size],
    ['format', stored.input.format, wanted.input.format],
    ['model', stored.model, wanted.model],
    ['stage', stored.stage, wanted.stage],
    ['chunk size', stored.chunkBytes, wanted.chunkBytes],
  ];
  const differ = checks.find(([, a, b]) => a !== b);
  return differ === undefined
    ? undefined
    : `the output already holds a job with another ${differ[0]} (${String(differ[1])}, now ${String(differ[2])})`;
}

export function parseJob(text: string, where: string): BatchJob {
  const job = JSON.parse(text) as Partial<BatchJob>;
  if (job.kind !== 'modelfleet-batch' || job.input === undefined || typeof job.version !== 'number') {
    throw new BadRequestError(`${where}: not a modelfleet batch job`);
  }
  return job as BatchJob;
}
