/**
 * GCP stream entry: `--source dist/functions/gcp/stream.js --target modelfleetStream`, a CloudEvent
 * function on a Pub/Sub topic (Eventarc). Settings: the HTTP function's plus STREAM_* (docs/streaming.md).
 */
import { type CloudEvent, cloudEvent } from '@google-cloud/functions-framework';
import { startStreaming } from '../../shared/boot';
import { cloudLoggingSink } from './handler';
import { createPubSubHandler, type PubSubMessageData } from './stream-handler';

const { ready } = startStreaming(process.env, (start) => createPubSubHandler(start(cloudLoggingSink)));

cloudEvent<PubSubMessageData>('modelfleetStream', async (event: CloudEvent<PubSubMessageData>) =>
  (await ready)(event),
);
