/**
 * Azure stream entry, for a function app of its own whose package.json `main` is
 * dist/functions/azure/stream.js (the HTTP app's `main` is index.js). Registers the Event Hubs trigger when STREAM_EVENTHUB_NAME is
 * set (consumer group STREAM_EVENTHUB_CONSUMER_GROUP, else $Default) and the Service Bus trigger
 * when STREAM_SERVICEBUS_QUEUE is; the connections are the app
 * settings EVENTHUB_CONNECTION / SERVICEBUS_CONNECTION (identity-based `__fullyQualifiedNamespace`
 * settings work too). docs/streaming.md.
 */
import { app as functions } from '@azure/functions';
import { startStreaming } from '../../shared/boot';
import { invocationLogSink } from './handler';
import { createBatchTrigger, eventHubRecords, serviceBusRecords } from './stream-handler';

const { ready } = startStreaming(process.env, (start) => start(invocationLogSink));

if (process.env['STREAM_EVENTHUB_NAME']) {
  functions.eventHub('modelfleetEventHub', {
    connection: 'EVENTHUB_CONNECTION',
    eventHubName: '%STREAM_EVENTHUB_NAME%',
    // A consumer group of its own (infra/azure/stream.json) keeps other readers' positions apart.
    ...(process.env['STREAM_EVENTHUB_CONSUMER_GROUP']
      ? { consumerGroup: '%STREAM_EVENTHUB_CONSUMER_GROUP%' }
      : {}),
    cardinality: 'many',
    retry: {
      strategy: 'exponentialBackoff',
      maxRetryCount: 5,
      minimumInterval: 2000,
      maximumInterval: 60_000,
    },
    handler: async (messages, context) => createBatchTrigger(await ready, eventHubRecords)(messages, context),
  });
}
if (process.env['STREAM_SERVICEBUS_QUEUE']) {
  functions.serviceBusQueue('modelfleetServiceBus', {
    connection: 'SERVICEBUS_CONNECTION',
    queueName: '%STREAM_SERVICEBUS_QUEUE%',
    cardinality: 'many',
    handler: async (messages, context) =>
      createBatchTrigger(await ready, serviceBusRecords)(messages, context),
  });
}
