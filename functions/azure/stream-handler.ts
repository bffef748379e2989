/**
 * Event Hubs and Service Bus triggers (cardinality many) → records. Neither trigger can redeliver
 * single events of a batch: poison records go to STREAM_DEAD_LETTER and the batch succeeds; if any
 * record could not be scored or written, the invocation throws, and the trigger retries the whole
 * batch (Event Hubs: the function's retry policy before the checkpoint moves; Service Bus: every
 * message is abandoned, then dead-lettered by the queue after its MaxDeliveryCount). Results of the
 * good records may then be written twice: at least once, as the triggers themselves are.
 */
import type { InvocationContext } from '@azure/functions';
import type { StreamRecord } from '../../shared/records/record-format';
import type { StreamProcessor } from '../../shared/records/stream-processor';
import { inInvocation } from './handler';

type Metadata = Record<string, unknown>;

/** The worker hands JSON bodies over already parsed; bytes and text are kept as they came. */
function dataOf(message: unknown): string | Uint8Array {
  if (typeof message === 'string') return message;
  if (message instanceof Uint8Array) return message;
  return JSON.stringify(message);
}

function attributesOf(properties: unknown): Record<string, string> {
  if (properties === null || typeof properties !== 'object') return {};
  return Object.fromEntries(
    Object.entries(properties as Metadata).flatMap(([name, value]) =>
      typeof value === 'string' || typeof value === 'number' ? [[name, String(value)]] : [],
    ),
  );
}

const at = (metadata: Metadata | undefined, name: string, index: number): unknown => {
  const list = metadata?.[name];
  return Array.isArray(list) ? list[index] : undefined;
};

export function eventHubRecords(messages: readonly unknown[], context: InvocationContext): StreamRecord[] {
  const metadata = context.triggerMetadata as Metadata | undefined;
  const partition =
    (metadata?.['partitionContext'] as { PartitionId?: string } | undefined)?.PartitionId ?? '0';
  return messages.map((message, index) => ({
    id: `${partition}:${String(at(metadata, 'sequenceNumberArray', index) ?? index)}`,
    data: dataOf(message),
    attributes: attributesOf(at(metadata, 'propertiesArray', index)),
  }));
}

export function serviceBusRecords(messages: readonly unknown[], context: InvocationContext): StreamRecord[] {
  const metadata = context.triggerMetadata as Metadata | undefined;
  return messages.map((message, index) => ({
    id: String(at(metadata, 'messageIdArray', index) ?? `${context.invocationId}:${index}`),
    data: dataOf(message),
    attributes: attributesOf(
      at(metadata, 'applicationPropertiesArray', index) ?? at(metadata, 'userPropertiesArray', index),
    ),
  }));
}

export function createBatchTrigger(
  processor: StreamProcessor,
  toRecords: (messages: readonly unknown[], context: InvocationContext) => StreamRecord[],
) {
  return async (messages: unknown, context: InvocationContext): Promise<void> => {
    const records = toRecords(Array.isArray(messages) ? messages : [messages], context);
    const summary = await inInvocation(context, () => processor.process(records));
    context.log(JSON.stringify({ stream: { ...summary, failed: summary.failed.length } }));
    if (summary.failed.length > 0) {
      throw new Error(
        `${summary.failed.length} of ${records.length} records must be retried: ${summary.failed.slice(0, 5).join(', ')}`,
      );
    }
  };
}
