import { joinKey } from '../store/types';

/**
 * Where things live in a model repository:
 *   <model>/<version>/model.onnx, <model>/<version>/manifest.json, <model>/deployments/<stage>.json
 * Kept free of the schemas (zod) so that the cold-start prefetch can name keys before they load.
 */
export const ARTIFACT_FILE = 'model.onnx';
export const MANIFEST_FILE = 'manifest.json';
export const DEPLOYMENTS_DIR = 'deployments';

export function deploymentKey(model: string, stage: string): string {
  return joinKey(model, DEPLOYMENTS_DIR, `${stage}.json`);
}

export function manifestKey(model: string, version: number): string {
  return joinKey(model, String(version), MANIFEST_FILE);
}

export function artifactKey(model: string, version: number): string {
  return joinKey(model, String(version), ARTIFACT_FILE);
}

/**
 * Monitoring records: `<model>/capture/<stage>/YYYY/MM/DD/HH/<batch>.jsonl.gz` (sampled requests
 * and drift snapshots) and `<model>/feedback/<stage>/YYYY/MM/DD/HH/<batch>.jsonl.gz` (ground
 * truth), dated in UTC by the first record of the batch, like SageMaker Data Capture.
 */
export const CAPTURE_DIR = 'capture';
export const FEEDBACK_DIR = 'feedback';
export type RecordStream = typeof CAPTURE_DIR | typeof FEEDBACK_DIR;
export const RECORD_BATCH_SUFFIX = '.jsonl.gz';

/** The hour folder of a stream: `<model>/<stream>/<stage>/YYYY/MM/DD/HH`. */
export function recordHourPrefix(model: string, stream: RecordStream, stage: string, at: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return joinKey(
    model,
    stream,
    stage,
    String(at.getUTCFullYear()),
    pad(at.getUTCMonth() + 1),
    pad(at.getUTCDate()),
    pad(at.getUTCHours()),
  );
}

/** One batch object; `batchId` keeps writers of the same hour apart (instance id + sequence). */
export function recordBatchKey(
  model: string,
  stream: RecordStream,
  stage: string,
  at: Date,
  batchId: string,
): string {
  return joinKey(recordHourPrefix(model, stream, stage, at), `${batchId}${RECORD_BATCH_SUFFIX}`);
}

/** The hour folders that cover [from, to], oldest first (what a report lists and reads). */
export function recordHourPrefixes(
  model: string,
  stream: RecordStream,
  stage: string,
  from: Date,
  to: Date,
): string[] {
  const hour = 3_600_000;
  const prefixes: string[] = [];
  for (let t = Math.floor(from.getTime() / hour) * hour; t <= to.getTime(); t += hour) {
    prefixes.push(recordHourPrefix(model, stream, stage, new Date(t)));
  }
  return prefixes;
}

/**
 * Streamed records' results or dead letters kept as JSON lines in the store (STREAM_SINK=store:…):
 * `<prefix>/<stage>/YYYY/MM/DD/HH/<batchId>.jsonl`, dated in UTC when the batch was written.
 */
export function streamOutputKey(prefix: string, stage: string, at: Date, batchId: string): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return joinKey(
    prefix,
    stage,
    String(at.getUTCFullYear()),
    pad(at.getUTCMonth() + 1),
    pad(at.getUTCDate()),
    pad(at.getUTCHours()),
    `${batchId}.jsonl`,
  );
}
