/**
 * `modelfleet batch <input> --model M --out OUT`: the CLI side of shared/batch (where the work is).
 * Input and output are local paths or store URLs (s3://, az://, gs://, file://), opened with the
 * same drivers and settings as --repository.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_BATCH_ROWS } from '../../shared/batch/chunk';
import { type BatchFormat, DEFAULT_CHUNK_BYTES, formatOfName } from '../../shared/batch/job';
import { storeSource } from '../../shared/batch/lines';
import {
  type BatchProgress,
  batchTarget,
  describeInput,
  loadBatchModel,
  runBatch,
} from '../../shared/batch/run';
import { parseStoreSettings } from '../../shared/config';
import { parseSecurityConfig } from '../../shared/config/security';
import type { ModelRepository } from '../../shared/repository/repository';
import { manifestVerifier } from '../../shared/security/signing';
import { defaultWorkerFile, WorkerPoolEngine } from '../../shared/serving/worker-pool';
import { type ModelStore, openStore } from '../../shared/store';
import { createLogger } from '../../shared/telemetry/log';
import type { OptionSpecs } from './command-line';
import { positiveInt } from './traffic-commands';

export const BATCH_OPTIONS = {
  model: { type: 'string', value: 'NAME', description: 'the model to score with (required)' },
  version: {
    type: 'string',
    value: 'N',
    description: "score with this version (default: the stage's primary)",
  },
  out: { type: 'string', value: 'DIR|URL', description: 'output folder or store prefix (required)' },
  format: {
    type: 'string',
    value: 'csv|jsonl|parquet',
    description: 'input format (default: from the extension)',
  },
  'chunk-size': {
    type: 'string',
    value: 'BYTES',
    description: `input bytes per chunk, the unit of resume (default ${DEFAULT_CHUNK_BYTES})`,
  },
  'batch-rows': {
    type: 'string',
    value: 'N',
    description: `rows per session.run (default ${DEFAULT_BATCH_ROWS})`,
  },
  progress: { type: 'boolean', description: 'print progress on stderr even when it is not a terminal' },
} as const satisfies OptionSpecs;

export interface BatchValues {
  model?: string | undefined;
  version?: string | undefined;
  out?: string | undefined;
  format?: string | undefined;
  'chunk-size'?: string | undefined;
  'batch-rows'?: string | undefined;
  progress?: boolean | undefined;
}

export interface BatchCommandContext {
  env: NodeJS.ProcessEnv;
  repository(): ModelRepository;
  stage: string;
  output(human: string, data: unknown): void;
  /** Where progress goes when it is shown. */
  progress?: { isTTY?: boolean; write(text: string): unknown } | undefined;
  json: boolean;
  fail(message: string): never;
}

/** A store location and a key: the object's folder (or bucket prefix) and its name. */
export function splitObjectUrl(location: string): { folder: string; key: string } {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) && !location.startsWith('file://')) {
    const slash = location.lastIndexOf('/');
    return { folder: location.slice(0, slash), key: location.slice(slash + 1) };
  }
  const file = location.startsWith('file://') ? location.slice('file://'.length) : location;
  return { folder: path.dirname(path.resolve(file)), key: path.basename(file) };
}

export async function runBatchCommand(
  args: string[],
  values: BatchValues,
  cli: BatchCommandContext,
): Promise<void> {
  const [input, ...extra] = args;
  if (input === undefined || extra.length > 0) cli.fail('batch: expected one <input> file or URL');
  const model = values.model ?? cli.fail('batch: --model is required');
  const out = values.out ?? cli.fail('batch: --out is required (a folder or a store prefix)');
  const { folder, key } = splitObjectUrl(input);
  if (key === '') cli.fail(`batch: ${input} names no object`);
  const format = (values.format ?? formatOfName(key)) as BatchFormat | undefined;
  if (format !== 'csv' && format !== 'jsonl' && format !== 'parquet') {
    cli.fail(
      `batch: --format must be csv, jsonl or parquet (got ${values.format ?? `the file name ${key}`})`,
    );
  }
  const settings = parseStoreSettings(cli.env);
  const inputStore = openStore(folder, settings, '<input>');
  const output: ModelStore = openStore(out, settings, '--out');
  const source = storeSource(inputStore, key);
  const repository = cli.repository();
  const version = values.version === undefined ? undefined : positiveInt(values.version, '--version');
  const verify = manifestVerifier(parseSecurityConfig(cli.env, cli.stage));
  const show =
    !cli.json && cli.progress !== undefined && (values.progress === true || cli.progress.isTTY === true);
  const started = Date.now();
  let startBytes: number | undefined;
  // Runs on a worker thread, so the next batch is read while this one runs (shared/batch/chunk.ts).
  const engine = inferenceThread();
  const result = await runBatch({
    input: await describeInput(source, folder, key, format),
    model,
    stage: cli.stage,
    chunkBytes:
      values['chunk-size'] === undefined
        ? DEFAULT_CHUNK_BYTES
        : positiveInt(values['chunk-size'], '--chunk-size'),
    ...(values['batch-rows'] === undefined
      ? {}
      : { batchRows: positiveInt(values['batch-rows'], '--batch-rows') }),
    target: () => batchTarget(repository, model, cli.stage, version),
    now: new Date(),
    source,
    output,
    load: (job) => loadBatchModel(repository, job.model, job.version, verify, engine),
    ...(engine === undefined ? {} : { engine }),
    limits: { maxTensorElements: 64 * 1024 * 1024 },
    ...(show && cli.progress !== undefined
      ? {
          onProgress: throttled((progress) => {
            startBytes ??= progress.bytes;
            cli.progress?.write(`\r${progressLine(progress, Date.now() - started, startBytes).padEnd(72)}`);
          }),
        }
      : {}),
  }).finally(() => engine?.close());
  if (show) cli.progress?.write('\n');
  const { summary } = result;
  cli.output(
    `${result.resumed ? `resumed: ${result.skipped} of ${summary.job.chunks} chunks were done; ` : ''}scored ${summary.rows} rows with ${model} version ${summary.job.version} (${summary.job.variant}): ${summary.rows - summary.errors} predictions, ${summary.errors} errors; output ${output.url}`,
    { ...summary, resumed: result.resumed, skippedChunks: result.resumed ? result.skipped : 0 },
  );
}

/**
 * One inference worker thread when the compiled worker script is there (the installed CLI runs
 * from dist/); else (a bundle, ts-jest) runs stay inline, which gives the same output.
 */
function inferenceThread(): WorkerPoolEngine | undefined {
  if (!existsSync(defaultWorkerFile())) return undefined;
  // Its rare warnings (a worker replaced) go to stderr, as every log line does.
  return new WorkerPoolEngine({ size: 1, inlineBelowMs: 0, log: createLogger('warn') });
}

/** "rows 40,960  12,345 rows/s  chunk 4/10  43%  ETA 5s": rate and ETA of this run's own work. */
export function progressLine(progress: BatchProgress, elapsedMs: number, startBytes: number): string {
  const seconds = Math.max(elapsedMs / 1000, 1e-3);
  const rate = progress.rows / seconds;
  const byteRate = (progress.bytes - startBytes) / seconds;
  const left = progress.totalBytes - progress.bytes;
  const eta = byteRate > 0 ? `${Math.ceil(left / byteRate)}s` : '?';
  const percent = progress.totalBytes === 0 ? 100 : Math.floor((progress.bytes / progress.totalBytes) * 100);
  return `rows ${progress.rows.toLocaleString('en-US')}  ${Math.round(rate).toLocaleString('en-US')} rows/s  chunk ${progress.chunksDone}/${progress.chunks}  ${percent}%  ETA ${eta}`;
}

/** At most one progress line per 200 ms, and always the last one of a chunk. */
function throttled(draw: (progress: BatchProgress) => void): (progress: BatchProgress) => void {
  let last = 0;
  let chunksDone = -1;
  return (progress) => {
    const now = Date.now();
    if (now - last < 200 && progress.chunksDone === chunksDone) return;
    last = now;
    chunksDone = progress.chunksDone;
    draw(progress);
  };
}
