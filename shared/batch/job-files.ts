/**
 * A batch job's files in its output, written and read without a model: start (the job and its
 * plan, or the stored job when resuming), which chunks are done, finish (errors.jsonl and
 * _SUCCESS.json). Apart from run.ts, which adds the scoring, so that the cloud's plan and finish
 * functions bundle without the protocol parsers, the model cache and onnxruntime.
 */
import { BadRequestError, NotFoundError } from '../errors';
import { primaryOf } from '../repository/deployment';
import type { ModelRepository } from '../repository/repository';
import type { ModelStore } from '../store';
import { parseCsvLine } from './csv';
import {
  type BatchFormat,
  type BatchInput,
  type BatchJob,
  type BatchSummary,
  type ChunkError,
  type ChunkMarker,
  type ChunkRange,
  ERRORS_KEY,
  JOB_KEY,
  jobMismatch,
  MARKERS_DIR,
  markerKey,
  PLAN_KEY,
  parseJob,
  partKey,
  planChunks,
  SUCCESS_KEY,
} from './job';
import { type ByteSource, WINDOW_BYTES } from './lines';
import { describeParquet } from './parquet';
import { planRowGroupChunks } from './parquet-plan';

export const PINNED_VARIANT = 'pinned';

/** The version a batch job scores with: the pinned one, else the stage's primary (as online). */
export async function batchTarget(
  repository: ModelRepository,
  model: string,
  stage: string,
  version: number | undefined,
): Promise<{ version: number; variant: string }> {
  if (version !== undefined) return { version, variant: PINNED_VARIANT };
  const read = await repository.readDeployment(model, stage);
  if (read.status !== 'ok') {
    throw new NotFoundError(
      `model "${model}" is not deployed on stage ${stage}; deploy it or name a version`,
    );
  }
  const primary = primaryOf(read.config);
  return { version: primary.version, variant: primary.name };
}

/** Size and (CSV) header of the input, from its first window; Parquet's from its footer. */
export async function describeInput(
  source: ByteSource,
  location: string,
  key: string,
  format: BatchFormat,
): Promise<BatchInput> {
  if (format === 'parquet') return describeParquet(source, location, key);
  const { body, size } = await source.read(0, WINDOW_BYTES);
  if (format === 'jsonl') return { location, key, size, format, dataStart: 0 };
  const newline = body.indexOf(10);
  if (newline === -1 && body.byteLength < size) {
    throw new BadRequestError(`${key}: the CSV header row is longer than ${WINDOW_BYTES} bytes`);
  }
  const end = newline === -1 ? body.byteLength : newline;
  const text = body.toString('utf8', 0, end).replace(/\r$/, '');
  const header = parseCsvLine(text).map((name) => name.trim());
  if (text.trim() === '' || header.some((name) => name === '')) {
    throw new BadRequestError(
      `${key}: the first line must name the CSV columns, got ${JSON.stringify(text.slice(0, 100))}`,
    );
  }
  const duplicate = header.find((name, i) => header.indexOf(name) !== i);
  if (duplicate !== undefined) throw new BadRequestError(`${key}: the CSV header names "${duplicate}" twice`);
  return { location, key, size, format, header, dataStart: Math.min(size, end + 1) };
}

export interface JobRequest {
  input: BatchInput;
  model: string;
  stage: string;
  chunkBytes: number;
  /** Resolves the version for a new job; a resumed job keeps its own. */
  target: () => Promise<{ version: number; variant: string }>;
  now: Date;
}

/** The stored job when `output` holds the same one (resume), else a new job written there. */
export async function startJob(
  output: ModelStore,
  request: JobRequest,
): Promise<{ job: BatchJob; resumed: boolean }> {
  const existing = await output.get(JOB_KEY);
  if (existing.status === 'ok') {
    const job = parseJob(existing.body.toString('utf8'), `${output.url}/${JOB_KEY}`);
    const problem = jobMismatch(job, { kind: 'modelfleet-batch', ...request });
    if (problem !== undefined)
      throw new BadRequestError(`${output.url}: ${problem}; use another output or remove it`);
    return { job, resumed: true };
  }
  const { version, variant } = await request.target();
  const chunks = planOf(request.input, request.chunkBytes);
  const job: BatchJob = {
    kind: 'modelfleet-batch',
    input: request.input,
    model: request.model,
    version,
    variant,
    stage: request.stage,
    chunkBytes: request.chunkBytes,
    chunks: chunks.length,
    createdAt: request.now.toISOString(),
  };
  // The plan first: a job file is only ever next to its plan.
  await output.put(PLAN_KEY, Buffer.from(JSON.stringify(chunks)), { contentType: 'application/json' });
  await output.put(JOB_KEY, Buffer.from(JSON.stringify(job, null, 2)), { contentType: 'application/json' });
  return { job, resumed: false };
}

export function chunksOf(job: BatchJob): ChunkRange[] {
  return planOf(job.input, job.chunkBytes);
}

/** Byte ranges of a line-oriented input; whole row groups of a Parquet one. */
function planOf(input: BatchInput, chunkBytes: number): ChunkRange[] {
  return input.parquet === undefined
    ? planChunks(input.dataStart, input.size, chunkBytes)
    : planRowGroupChunks(input.parquet, input.dataStart, input.size, chunkBytes);
}

/** Indexes of the chunks whose completion marker exists. */
export async function completedChunks(output: ModelStore): Promise<Set<number>> {
  const names = await output.list(MARKERS_DIR);
  return new Set(
    names
      .map((name) => /^(\d+)\.json$/.exec(name)?.[1])
      .filter((n) => n !== undefined)
      .map(Number),
  );
}

/** Every chunk's marker read back: errors.jsonl with row numbers in the file, then _SUCCESS.json. */
export async function finishJob(output: ModelStore, job: BatchJob, now: Date): Promise<BatchSummary> {
  const parts: BatchSummary['parts'] = [];
  const errorLines: string[] = [];
  let firstRow = 0;
  for (let index = 0; index < job.chunks; index++) {
    const read = await output.get(markerKey(index));
    if (read.status !== 'ok') throw new BadRequestError(`${output.url}: chunk ${index} is not done yet`);
    const marker = JSON.parse(read.body.toString('utf8')) as ChunkMarker;
    for (const error of marker.errors) {
      errorLines.push(
        JSON.stringify({ row: firstRow + error.row, offset: error.offset, error: error.error }),
      );
    }
    parts.push({ key: partKey(index), index, firstRow, rows: marker.rows, errors: marker.errors.length });
    firstRow += marker.rows;
  }
  const errors = errorLines.length;
  await output.put(ERRORS_KEY, Buffer.from(errors === 0 ? '' : `${errorLines.join('\n')}\n`), {
    contentType: 'application/x-ndjson',
  });
  const summary: BatchSummary = { job, rows: firstRow, errors, parts, finishedAt: now.toISOString() };
  await output.put(SUCCESS_KEY, Buffer.from(JSON.stringify(summary, null, 2)), {
    contentType: 'application/json',
  });
  return summary;
}

/**
 * One batch's output lines as bytes ('null' for a failed row, whose error joins `errors` with its
 * row in the chunk and its `offset`): done per batch, so the per-row strings die young.
 */
export function partLines(
  outcomes: readonly (string | { error: string })[],
  firstRow: number,
  offsetOf: (row: number) => number,
  errors: ChunkError[],
): Buffer {
  let text = '';
  outcomes.forEach((outcome, i) => {
    if (typeof outcome === 'string') text += `${outcome}\n`;
    else {
      errors.push({ row: firstRow + i, offset: offsetOf(i), error: outcome.error });
      text += 'null\n';
    }
  });
  return Buffer.from(text);
}

/** Part first, marker last: a chunk without a marker is done again whole. */
export async function writeChunk(
  output: ModelStore,
  index: number,
  part: Buffer,
  result: { rows: number; errors: ChunkError[] },
): Promise<ChunkMarker> {
  await output.put(partKey(index), part, { contentType: 'application/x-ndjson' });
  const marker: ChunkMarker = { index, ...result };
  await output.put(markerKey(index), Buffer.from(JSON.stringify(marker)), {
    contentType: 'application/json',
  });
  return marker;
}

/**
 * One scored batch in flight while the next is read: `add` takes a batch whose scoring has started
 * (decoded, its run handed to the engine) and what to do with its result, in order; it resolves
 * once the batch before is done, so at most two are pending. `drain` waits for the last.
 */
export function batchPipeline(): {
  add<T>(scored: Promise<T>, done: (result: T) => void): Promise<void>;
  drain(): Promise<void>;
} {
  let previous: Promise<void> = Promise.resolve();
  return {
    add(scored, done) {
      const before = previous;
      previous = (async () => {
        const result = await scored;
        await before;
        done(result);
      })();
      // Awaited by the next add or by drain; a failure must not count as unhandled meanwhile.
      previous.catch(() => undefined);
      return before;
    },
    drain: () => previous,
  };
}
