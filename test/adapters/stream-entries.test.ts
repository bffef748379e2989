import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type EventHubFunctionOptions,
  InvocationContext,
  type ServiceBusQueueFunctionOptions,
} from '@azure/functions';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { Context, SQSEvent } from 'aws-lambda';
import request from 'supertest';
import type { ModelRepository } from '../../shared/repository/repository';
import { type FakeSinks, startFakeSinks } from '../fakes/stream-sinks-fake';
import { parseTerraform } from '../infra/support/terraform';
import { removeTempDirs, sampleRepository, sampleRequest } from '../support/fixtures';
import { ROOT } from '../support/processes';

const credentials = { accessKeyId: 'AKIDSTREAMTEST', secretAccessKey: 'stream-test-secret' };
let fake: FakeSinks;
let repository: ModelRepository;

beforeAll(async () => {
  fake = await startFakeSinks(credentials, 'us-east-2');
  repository = await sampleRepository();
});
beforeEach(() => {
  fake.requests.length = 0;
  for (const list of Object.values(fake.delivered)) list.length = 0;
  fake.down = false;
});
afterAll(async () => {
  await fake.close();
  removeTempDirs();
});

const bad = () => {
  const body = sampleRequest('iris');
  body.inputs[0].shape = [2, 5];
  return body;
};
const POISON = 'inputs[0].shape[1]: expected 4 [-1,4], got 5 [2,5]';

/** Loads an entry module with the function's app settings, as its platform would. */
function loadEntry<T>(entry: string, settings: Record<string, string>, isolate = true): T {
  const saved = { ...process.env };
  Object.assign(process.env, {
    MODEL_REPOSITORY: repository.store.url,
    MODELFLEET_STAGE: 'local',
    ...settings,
  });
  let loaded: T | undefined;
  try {
    // GCP registers into the framework module this file imports: no isolated registry there.
    if (isolate) {
      jest.isolateModules(() => {
        loaded = require(entry) as T;
      });
    } else loaded = require(entry) as T;
  } finally {
    process.env = saved;
  }
  return loaded as T;
}

/** Dead letters the function wrote to the repository's store (STREAM_DEAD_LETTER=store). */
async function deadLetters(): Promise<{ id: string; error: { message: string } }[]> {
  const letters: { id: string; error: { message: string } }[] = [];
  const walk = async (prefix: string): Promise<void> => {
    for (const name of await repository.store.list(prefix)) {
      if (name.endsWith('.jsonl')) {
        const object = await repository.store.get(`${prefix}/${name}`);
        if (object.status === 'ok') {
          for (const line of object.body.toString('utf8').trim().split('\n')) letters.push(JSON.parse(line));
        }
      } else await walk(`${prefix}/${name}`);
    }
  };
  await walk('dead-letters');
  return letters;
}

describe('stream entries as each platform loads them', () => {
  it('AWS (functions/aws/stream/index.ts): settings from the environment, results to SQS', async () => {
    const { handler } = loadEntry<typeof import('../../functions/aws/stream/index')>(
      '../../functions/aws/stream/index',
      {
        STREAM_MODEL: 'iris',
        STREAM_SINK: 'sqs:https://sqs.us-east-2.amazonaws.com/123456789012/predictions',
        AWS_REGION: 'us-east-2',
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_ENDPOINT_URL_SQS: fake.endpoint,
      },
    );
    const event = JSON.parse(
      readFileSync(path.join(__dirname, '..', 'events', 'sqs-records.json'), 'utf8'),
    ) as SQSEvent;
    const poison = event.Records[2]?.messageId;
    // No dead-letter destination configured: the poison record is left to the queue's redrive policy.
    expect(await handler(event, {} as Context)).toEqual({ batchItemFailures: [{ itemIdentifier: poison }] });
    expect(fake.delivered.sqs.map((body) => JSON.parse(body).id)).toEqual(
      event.Records.filter((r) => r.messageId !== poison).map((r) => r.messageId),
    );
  });

  it('fails the cold start naming the setting when the stream settings are wrong', () => {
    expect(() => loadEntry('../../functions/aws/stream/index', {})).toThrow('STREAM_SINK: is required');
    expect(() =>
      loadEntry('../../functions/aws/stream/index', {
        STREAM_SINK: 'sqs:https://q',
        AWS_REGION: '',
        AWS_DEFAULT_REGION: '',
      }),
    ).toThrow('AWS_REGION');
  });

  /** Registers modelfleetStream in the framework this file imports (once: the module is cached). */
  const loadGcpEntry = () =>
    loadEntry(
      '../../functions/gcp/stream',
      {
        STREAM_MODEL: 'iris',
        STREAM_SINK: 'pubsub:projects/p1/topics/predictions',
        PUBSUB_EMULATOR_HOST: fake.endpoint.replace('http://', ''),
        STREAM_DEAD_LETTER: 'store',
      },
      false,
    );

  it('GCP (functions/gcp/stream.ts): a Pub/Sub CloudEvent through functions-framework', async () => {
    loadGcpEntry();
    const server = getTestServer('modelfleetStream');
    const publish = (id: string, body: unknown) =>
      request(server)
        .post('/')
        .set({
          'ce-specversion': '1.0',
          'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
          'ce-source': '//pubsub.googleapis.com/projects/p1/topics/records',
          'ce-id': id,
          'ce-time': '2026-11-30T12:00:00.000Z',
          'content-type': 'application/json',
        })
        .send({
          message: {
            data: Buffer.from(JSON.stringify(body)).toString('base64'),
            attributes: { origin: 'test' },
            messageId: id,
            publishTime: '2026-11-30T12:00:00.000Z',
          },
          subscription: 'projects/p1/subscriptions/records-modelfleet',
        });
    expect((await publish('1001', sampleRequest('iris'))).status).toBe(204);
    expect(fake.delivered.pubsub.map((body) => JSON.parse(body))).toEqual([
      expect.objectContaining({ id: '1001', model_name: 'iris', parameters: { variant: 'primary' } }),
    ]);
    // A poison message is acknowledged (204) once its dead letter is written.
    expect((await publish('1002', bad())).status).toBe(204);
    expect(await deadLetters()).toEqual([
      expect.objectContaining({ id: '1002', error: expect.objectContaining({ message: POISON }) }),
    ]);
    // The topic down: the function fails and Pub/Sub redelivers the message.
    fake.down = true;
    expect((await publish('1003', sampleRequest('iris'))).status).toBe(500);
  });

  it('GCP: the push subscription of infra/gcp/stream posts a raw Pub/Sub body the framework hands over as that CloudEvent', async () => {
    loadGcpEntry();
    const subscription = parseTerraform(path.join(ROOT, 'infra', 'gcp', 'stream', 'main.tf')).resource[
      'google_pubsub_subscription'
    ]?.['records']?.[0] as { push_config: { push_endpoint: string }[] };
    // The endpoint as Terraform resolves it, for project p1 and the module's default name.
    const resolved: Record<string, string> = {
      'google_cloudfunctions2_function.stream.service_config[0].uri': 'https://stream.run.app',
      'google_pubsub_topic.records.id': 'projects/p1/topics/modelfleet-stream-records',
    };
    const endpoint = (subscription.push_config[0]?.push_endpoint ?? '').replace(
      /\$\{([^}]+)\}/g,
      (whole, reference: string) => resolved[reference] ?? whole,
    );
    expect(endpoint).toBe('https://stream.run.app/projects/p1/topics/modelfleet-stream-records');
    const server = getTestServer('modelfleetStream');
    // What a push subscription (no Eventarc, no CloudEvent headers) posts for one message.
    const push = (id: string, body: unknown) =>
      request(server)
        .post(new URL(endpoint).pathname)
        .set('content-type', 'application/json')
        .send({
          message: {
            data: Buffer.from(JSON.stringify(body)).toString('base64'),
            attributes: { origin: 'push' },
            messageId: id,
            publishTime: '2026-11-30T12:00:00.000Z',
          },
          subscription: 'projects/p1/subscriptions/modelfleet-stream-records',
        });
    expect((await push('2001', sampleRequest('iris'))).status).toBe(204);
    expect(fake.delivered.pubsub.map((body) => JSON.parse(body))).toEqual([
      expect.objectContaining({ id: '2001', model_name: 'iris' }),
    ]);
    expect((await push('2002', bad())).status).toBe(204);
    expect(await deadLetters()).toContainEqual(
      expect.objectContaining({
        id: '2002',
        error: expect.objectContaining({ message: POISON }),
        attributes: { origin: 'push' },
      }),
    );
    // A failure answers 500: Pub/Sub redelivers, then forwards to the subscription's dead-letter topic.
    fake.down = true;
    expect((await push('2003', sampleRequest('iris'))).status).toBe(500);
  });

  it('Azure (functions/azure/stream.ts): Event Hubs and Service Bus triggers, cardinality many', async () => {
    const registered: Record<string, EventHubFunctionOptions | ServiceBusQueueFunctionOptions> = {};
    jest.doMock('@azure/functions', () => ({
      ...jest.requireActual('@azure/functions'),
      app: {
        eventHub: (name: string, options: EventHubFunctionOptions) => {
          registered[name] = options;
        },
        serviceBusQueue: (name: string, options: ServiceBusQueueFunctionOptions) => {
          registered[name] = options;
        },
      },
    }));
    try {
      loadEntry('../../functions/azure/stream', {
        STREAM_MODEL: 'iris',
        STREAM_EVENTHUB_NAME: 'records',
        STREAM_EVENTHUB_CONSUMER_GROUP: 'modelfleet',
        STREAM_SERVICEBUS_QUEUE: 'records',
        STREAM_SINK:
          'eventhub:Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=a2V5;EntityPath=predictions',
        EVENTHUB_ENDPOINT_URL: fake.endpoint,
        STREAM_DEAD_LETTER: 'store',
      });
    } finally {
      jest.dontMock('@azure/functions');
    }
    const eventHub = registered['modelfleetEventHub'] as EventHubFunctionOptions;
    const serviceBus = registered['modelfleetServiceBus'] as ServiceBusQueueFunctionOptions;
    expect(eventHub).toMatchObject({
      connection: 'EVENTHUB_CONNECTION',
      eventHubName: '%STREAM_EVENTHUB_NAME%',
      consumerGroup: '%STREAM_EVENTHUB_CONSUMER_GROUP%',
      cardinality: 'many',
    });
    expect(serviceBus).toMatchObject({
      connection: 'SERVICEBUS_CONNECTION',
      queueName: '%STREAM_SERVICEBUS_QUEUE%',
      cardinality: 'many',
    });
    // The worker hands JSON event bodies over parsed, with per-event metadata in arrays.
    const hubContext = new InvocationContext({
      invocationId: 'inv-1',
      functionName: 'modelfleetEventHub',
      logHandler: () => {},
      triggerMetadata: {
        partitionContext: {
          ConsumerGroup: '$Default',
          EventHubName: 'records',
          FullyQualifiedNamespace: 'ns1.servicebus.windows.net',
          PartitionId: '3',
        },
        sequenceNumberArray: [41, 42, 43],
        offsetArray: ['4096', '8192', '12288'],
        enqueuedTimeUtcArray: ['2026-11-30T12:00:00Z', '2026-11-30T12:00:01Z', '2026-11-30T12:00:02Z'],
        propertiesArray: [{}, { 'x-user-id': 'u-1' }, {}],
      },
    });
    await eventHub.handler([sampleRequest('iris'), bad(), sampleRequest('iris')], hubContext);
    expect(fake.delivered.eventhub.map((body) => JSON.parse(body).id)).toEqual(['3:41', '3:43']);
    expect(await deadLetters()).toContainEqual(
      expect.objectContaining({
        id: '3:42',
        error: expect.objectContaining({ message: POISON }),
        attributes: { 'x-user-id': 'u-1' },
      }),
    );
    const busContext = new InvocationContext({
      invocationId: 'inv-2',
      functionName: 'modelfleetServiceBus',
      logHandler: () => {},
      triggerMetadata: {
        messageIdArray: ['sb-1', 'sb-2'],
        deliveryCountArray: [1, 1],
        applicationPropertiesArray: [{ model: 'iris' }, {}],
      },
    });
    await serviceBus.handler(
      [JSON.stringify(sampleRequest('iris')), JSON.stringify(sampleRequest('iris'))],
      busContext,
    );
    expect(fake.delivered.eventhub.slice(2).map((body) => JSON.parse(body).id)).toEqual(['sb-1', 'sb-2']);
    // The sink down: the invocation fails, the trigger retries (Service Bus abandons every message).
    fake.down = true;
    await expect(serviceBus.handler([JSON.stringify(sampleRequest('iris'))], busContext)).rejects.toThrow(
      'none of the 1 records could be processed',
    );
  });
});
