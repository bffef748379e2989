/**
 * Lambda event source mappings → records, and the partial batch response back: SQS (itemIdentifier =
 * messageId), Kinesis Data Streams (the sequence number; Lambda resumes from the lowest reported)
 * and Kafka, Amazon MSK or self-managed: itemIdentifier is an object,
 * {"partition": "<topic>-<partition number>", "offset": <number>}, the schema of the Lambda developer
 * guide, https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html#kafka-partial-batch-response
 * (a pair not in the invoked event makes Lambda retry the whole batch, so both come from the record).
 * The mapping must enable ReportBatchItemFailures (serverless.yml). A batch in which nothing could be
 * done throws: Lambda then retries it whole.
 */
import type { Context, KinesisStreamEvent, MSKEvent, SelfManagedKafkaEvent, SQSEvent } from 'aws-lambda';
import type { StartStream } from '../../../shared/boot';
import type { Config } from '../../../shared/config';
import type { StreamRecord } from '../../../shared/records/record-format';
import type { StreamProcessor } from '../../../shared/records/stream-processor';
import { emfSink } from '../metrics';

export type StreamEvent = SQSEvent | KinesisStreamEvent | MSKEvent | SelfManagedKafkaEvent;
type ItemIdentifier = string | { partition: string; offset: number };
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: ItemIdentifier }[];
}

interface Translated {
  records: StreamRecord[];
  identifiers: Map<string, ItemIdentifier>;
  /** FIFO queues keep order: after one failure, the rest of the batch is redelivered too. */
  ordered: boolean;
}

export function translateEvent(event: StreamEvent): Translated {
  if ('records' in event) {
    const records: StreamRecord[] = [];
    const identifiers = new Map<string, ItemIdentifier>();
    for (const [partition, list] of Object.entries(event.records)) {
      for (const record of list) {
        const id = `${partition}@${record.offset}`;
        const attributes: Record<string, string> = {};
        for (const header of record.headers ?? []) {
          for (const [key, bytes] of Object.entries(header))
            attributes[key] = Buffer.from(bytes).toString('utf8');
        }
        records.push({ id, data: Buffer.from(record.value ?? '', 'base64'), attributes });
        identifiers.set(id, {
          partition: `${record.topic}-${record.partition}`,
          offset: Number(record.offset),
        });
      }
    }
    return { records, identifiers, ordered: false };
  }
  const first = event.Records[0];
  if (first !== undefined && 'kinesis' in first) {
    const records = (event as KinesisStreamEvent).Records.map((record) => ({
      id: record.kinesis.sequenceNumber,
      data: Buffer.from(record.kinesis.data, 'base64'),
      attributes: { partitionKey: record.kinesis.partitionKey },
    }));
    return { records, identifiers: new Map(records.map((r) => [r.id, r.id])), ordered: false };
  }
  const messages = (event as SQSEvent).Records;
  const records = messages.map((message) => ({
    id: message.messageId,
    data: message.body,
    attributes: Object.fromEntries(
      Object.entries(message.messageAttributes ?? {}).flatMap(([name, value]) =>
        value.stringValue === undefined ? [] : [[name, value.stringValue]],
      ),
    ),
  }));
  const ordered = messages.some((message) => message.eventSourceARN?.endsWith('.fifo'));
  return { records, identifiers: new Map(records.map((r) => [r.id, r.id])), ordered };
}

export function createStreamHandler(processor: StreamProcessor) {
  return async (event: StreamEvent, _context?: Context): Promise<BatchResponse> => {
    const { records, identifiers, ordered } = translateEvent(event);
    const { failed } = await processor.process(records);
    const failedIds = new Set(failed);
    const firstFailure = records.findIndex((record) => failedIds.has(record.id));
    const redelivered =
      ordered && firstFailure >= 0
        ? records.slice(firstFailure).map((r) => r.id)
        : records.map((r) => r.id).filter((id) => failedIds.has(id));
    return {
      batchItemFailures: redelivered.map((id) => ({ itemIdentifier: identifiers.get(id) ?? id })),
    };
  };
}

/** The deployed handler: one EMF document per record, printed as it is scored. */
export function createStageStreamHandler(start: StartStream, config: Config) {
  return createStreamHandler(start(emfSink(config.metricsNamespace)));
}
