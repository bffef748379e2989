/**
 * AWS batch entries (serverless.yml): S3 "Object Created" events from EventBridge start a job;
 * small objects are scored whole by `objectCreated`, large ones by the BatchStateMachine
 * (Step Functions Distributed Map): `plan` → one `chunk` per item of the plan → `finish`. Every
 * step is a call on BatchWorker (shared/batch/worker.ts), whose chunk step is the CLI's own.
 * Writes go through @aws-sdk/client-s3 from the Lambda runtime (left out of the bundle).
 */
import { BatchWorker } from '../../shared/batch/worker';
import { parseBatchSettings } from '../../shared/config/batch';

/** The EventBridge event of an S3 object created (detail-type "Object Created"). */
export interface ObjectCreatedEvent {
  detail?: { bucket?: { name?: string }; object?: { key?: string; size?: number } };
}

/** A Distributed Map item: the plan's chunk, with the job's output location added by ItemSelector. */
export interface ChunkEvent {
  out: string;
  index: number;
}

let worker: BatchWorker | undefined;
const current = () => {
  worker ??= new BatchWorker(parseBatchSettings(process.env));
  return worker;
};

/** s3://bucket/folder and the object's name; S3 event keys are URL-encoded with + for spaces. */
export function objectOf(event: ObjectCreatedEvent): { folder: string; key: string } {
  const bucket = event.detail?.bucket?.name;
  const raw = event.detail?.object?.key;
  if (bucket === undefined || raw === undefined) throw new Error('not an S3 Object Created event');
  const path = decodeURIComponent(raw.replace(/\+/g, ' '));
  const slash = path.lastIndexOf('/');
  return {
    folder: slash === -1 ? `s3://${bucket}` : `s3://${bucket}/${path.slice(0, slash)}`,
    key: path.slice(slash + 1),
  };
}

export const objectCreated = async (event: ObjectCreatedEvent) => {
  const { folder, key } = objectOf(event);
  const summary = await current().whole(folder, key);
  return { out: current().outputOf(key), rows: summary.rows, errors: summary.errors };
};

/** The state machine's first state: the plan, and where the map reads its items. */
export const plan = async (event: ObjectCreatedEvent) => {
  const { folder, key } = objectOf(event);
  const planned = await current().plan(folder, key);
  const location = /^s3:\/\/([^/]+)\/(.+)$/.exec(planned.plan);
  if (location === null) throw new Error(`BATCH_OUTPUT must be an s3:// URL, got ${planned.out}`);
  return { ...planned, planBucket: location[1] as string, planKey: location[2] as string };
};

export const chunk = async (event: ChunkEvent) => {
  const marker = await current().chunk(event.out, event.index);
  return { index: marker.index, rows: marker.rows, errors: marker.errors.length };
};

export const finish = async (event: { out: string }) => {
  const summary = await current().finish(event.out);
  return { out: event.out, rows: summary.rows, errors: summary.errors, chunks: summary.parts.length };
};

/** For tests: the next call reads the environment again. */
export function resetBatchWorker(): void {
  worker = undefined;
}
