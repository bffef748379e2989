/**
 * Pub/Sub push → one record. Pub/Sub delivers a CloudEvent per message
 * (google.cloud.pubsub.topic.v1.messagePublished) whose data is `{message, subscription}`. Returning
 * acknowledges; throwing makes Pub/Sub redeliver (and, after the subscription's maximum delivery
 * attempts, forward to its dead-letter topic). A poison record goes to STREAM_DEAD_LETTER and is
 * acknowledged; a record that could not be scored or written is redelivered.
 */
import type { CloudEvent } from '@google-cloud/functions-framework';
import type { StreamProcessor } from '../../shared/records/stream-processor';

export interface PubSubMessageData {
  message?: {
    data?: string;
    attributes?: Record<string, string>;
    messageId?: string;
    publishTime?: string;
    orderingKey?: string;
  };
  subscription?: string;
}

export function createPubSubHandler(processor: StreamProcessor) {
  return async (event: CloudEvent<PubSubMessageData>): Promise<void> => {
    const message = event.data?.message;
    const id = message?.messageId ?? event.id;
    // A failure throws (BatchFailedError): the only record of the batch is redelivered.
    await processor.process([
      { id, data: Buffer.from(message?.data ?? '', 'base64'), attributes: message?.attributes ?? {} },
    ]);
  };
}
