/**
 * The stream function's entry (serverless.yml `stream`: SQS, Kinesis and Kafka event sources).
 * Like the HTTP entry, the stage's store reads start before the heavy modules load (shared/boot.ts).
 */
import type { Context } from 'aws-lambda';
import { startStreaming } from '../../../shared/boot';
import type { BatchResponse, StreamEvent } from './handler';

const { ready } = startStreaming(
  process.env,
  (start, config) =>
    (require('./handler') as typeof import('./handler')).createStageStreamHandler(start, config),
  [() => require('./handler')],
);

export async function handler(event: StreamEvent, context: Context): Promise<BatchResponse> {
  return (await ready)(event, context);
}
