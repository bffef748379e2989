/**
 * AWS batch entries (serverless.yml), one file per function so that each bundle holds only what
 * its step runs: S3 "Object Created" events from EventBridge start a job; small objects are scored
 * whole by `objectCreated` (object-created.ts), large ones by the BatchStateMachine (Step
 * Functions Distributed Map): `plan` (plan.ts) → one `chunk` (chunk.ts) per item of the plan →
 * `finish` (finish.ts). plan and finish run no model: their packages carry no onnxruntime.
 * Writes go through @aws-sdk/client-s3 from the Lambda runtime (left out of the bundle).
 */

/** The EventBridge event of an S3 object created (detail-type "Object Created"). */
export interface ObjectCreatedEvent {
  detail?: { bucket?: { name?: string }; object?: { key?: string; size?: number } };
}

/** A Distributed Map item: the plan's chunk, with the job's output location added by ItemSelector. */
export interface ChunkEvent {
  out: string;
  index: number;
}

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

const resets: (() => void)[] = [];

/** One instance per warm Lambda instance, made on the first call (settings read then). */
export function perInstance<T>(make: () => T): () => T {
  let instance: T | undefined;
  resets.push(() => {
    instance = undefined;
  });
  return () => {
    instance ??= make();
    return instance;
  };
}

/** For tests: the next call of every loaded entry reads the environment again. */
export function resetBatchWorker(): void {
  for (const reset of resets) reset();
}
