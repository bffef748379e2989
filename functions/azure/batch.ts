/**
 * Azure batch entry (its own function app, infra/azure/batch.json): Event Grid delivers each
 * BlobCreated event of the input container to the `batch-jobs` queue; `modelfleetBatchJob` scores
 * a small blob whole, or plans a large one and puts one message per chunk on `batch-chunks`, where
 * `modelfleetBatchChunk` runs the CLI's chunk worker and the last chunk writes the finish. Queue
 * messages are retried and then poisoned by the Functions host; a chunk done twice is overwritten
 * whole, so a retry never duplicates rows.
 */
import { app as functions, type InvocationContext, output } from '@azure/functions';
import { BatchWorker } from '../../shared/batch/worker';
import { parseBatchSettings } from '../../shared/config/batch';

/** The Event Grid BlobCreated event (schema: Event Grid), as the queue delivers it. */
export interface BlobCreatedEvent {
  eventType?: string;
  data?: { url?: string; contentLength?: number };
}

export const CHUNK_QUEUE = output.storageQueue({
  queueName: 'batch-chunks',
  connection: 'BATCH_QUEUE_CONNECTION',
});

let worker: BatchWorker | undefined;
const current = () => {
  worker ??= new BatchWorker(parseBatchSettings(process.env));
  return worker;
};

/**
 * az://account/container/folder and the blob's name from its URL: the account is the host's first
 * label on Azure (account.blob.core.windows.net), the first path segment on Azurite.
 */
export function blobOf(url: string): { folder: string; key: string } {
  const parsed = new URL(url);
  const segments = parsed.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const account = parsed.hostname.endsWith('.blob.core.windows.net')
    ? (parsed.hostname.split('.')[0] as string)
    : (segments.shift() ?? '');
  const key = segments.pop();
  if (key === undefined || segments.length === 0) throw new Error(`not a blob URL: ${url}`);
  return { folder: `az://${account}/${segments.join('/')}`, key };
}

export async function onBlobCreated(event: BlobCreatedEvent, context: InvocationContext) {
  const url = event.data?.url;
  if (event.eventType !== 'Microsoft.Storage.BlobCreated' || url === undefined) {
    context.warn(`batch: ignored an event of type ${String(event.eventType)}`);
    return { ignored: true };
  }
  const { folder, key } = blobOf(url);
  const batch = current();
  if ((event.data?.contentLength ?? Number.POSITIVE_INFINITY) < batch.smallObjectBytes) {
    const summary = await batch.whole(folder, key);
    return { out: batch.outputOf(key), rows: summary.rows, errors: summary.errors };
  }
  const planned = await batch.plan(folder, key);
  context.extraOutputs.set(
    CHUNK_QUEUE,
    Array.from({ length: planned.chunks }, (_, index) => ({ out: planned.out, index })),
  );
  return { out: planned.out, chunks: planned.chunks };
}

export async function onChunk(message: { out: string; index: number }) {
  const summary = await current().chunkThenFinish(message.out, message.index);
  return summary === undefined ? { index: message.index } : { index: message.index, finished: summary.rows };
}

/** For tests: the next call reads the environment again. */
export function resetBatchWorker(): void {
  worker = undefined;
}

functions.storageQueue('modelfleetBatchJob', {
  queueName: 'batch-jobs',
  connection: 'BATCH_QUEUE_CONNECTION',
  extraOutputs: [CHUNK_QUEUE],
  handler: async (message, context) => void (await onBlobCreated(message as BlobCreatedEvent, context)),
});
functions.storageQueue('modelfleetBatchChunk', {
  queueName: 'batch-chunks',
  connection: 'BATCH_QUEUE_CONNECTION',
  handler: async (message) => void (await onChunk(message as { out: string; index: number })),
});
