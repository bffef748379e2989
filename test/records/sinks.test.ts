import { createHmac } from 'node:crypto';
import { parseStreamSettings } from '../../shared/config/streaming';
import { kinesisSink, snsSink, sqsSink } from '../../shared/records/aws-sinks';
import { eventHubSink, pubSubSink } from '../../shared/records/cloud-sinks';
import { type SinkMessage, storeSink } from '../../shared/records/sinks';
import { openStore } from '../../shared/store';
import { type FakeSinks, startFakeSinks } from '../fakes/stream-sinks-fake';
import { closeFakeGcs, repositoryLocation, type StoreKind } from '../storage/stores';
import { removeTempDirs } from '../support/fixtures';

const credentials = { accessKeyId: 'AKIDSTREAMTEST', secretAccessKey: 'stream-test-secret' };
const region = 'eu-west-1';
let fake: FakeSinks;

beforeAll(async () => {
  fake = await startFakeSinks(credentials, region);
});
beforeEach(() => {
  fake.requests.length = 0;
  for (const list of Object.values(fake.delivered)) list.length = 0;
  fake.down = false;
  delete fake.refuse;
});
afterAll(async () => {
  await fake.close();
  await closeFakeGcs();
  removeTempDirs();
});

const messages = (count: number): SinkMessage[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `rec-${i}`,
    body: JSON.stringify({ id: `rec-${i}`, outputs: [{ name: 'label', data: [i] }], poison: i === 3 }),
    attributes: { model: 'iris', version: '1', variant: 'primary' },
  }));
const aws = () => ({ region, credentials, endpoint: fake.endpoint });

describe('AWS sinks (SigV4-signed HTTP APIs, checked against a fake)', () => {
  it('SQS SendMessageBatch: batches of 10 with attributes, refused entries reported by record', async () => {
    const queue = 'https://sqs.eu-west-1.amazonaws.com/123456789012/predictions';
    fake.refuse = /"poison":true/;
    const failed = await sqsSink(queue, aws()).write(messages(12));
    expect(failed).toEqual(['rec-3']);
    expect(
      fake.requests.map((r) => [r.service, r.headers['x-amz-target'], r.headers['content-type']]),
    ).toEqual([
      ['sqs', 'AmazonSQS.SendMessageBatch', 'application/x-amz-json-1.0'],
      ['sqs', 'AmazonSQS.SendMessageBatch', 'application/x-amz-json-1.0'],
    ]);
    const first = JSON.parse(fake.requests[0]?.body ?? '{}');
    expect(first.QueueUrl).toBe(queue);
    expect(first.Entries).toHaveLength(10);
    expect(first.Entries[0]).toEqual({
      Id: '0',
      MessageBody: messages(1)[0]?.body,
      MessageAttributes: {
        model: { DataType: 'String', StringValue: 'iris' },
        version: { DataType: 'String', StringValue: '1' },
        variant: { DataType: 'String', StringValue: 'primary' },
      },
    });
    expect(String(fake.requests[0]?.headers.authorization)).toContain(`${credentials.accessKeyId}/`);
    expect(String(fake.requests[0]?.headers.authorization)).toContain(`/${region}/sqs/aws4_request`);
    expect(fake.delivered.sqs).toHaveLength(11);
  });

  it('SQS FIFO queues get a message group (the model) and a deduplication id stable per record', async () => {
    await sqsSink('https://sqs.eu-west-1.amazonaws.com/123456789012/p.fifo', aws()).write(messages(2));
    await sqsSink('https://sqs.eu-west-1.amazonaws.com/123456789012/p.fifo', aws()).write(messages(1));
    const [a, b] = fake.requests.map((r) => JSON.parse(r.body).Entries[0]);
    expect(a.MessageGroupId).toBe('iris');
    expect(a.MessageDeduplicationId).toMatch(/^[0-9a-f]{64}$/);
    expect(b.MessageDeduplicationId).toBe(a.MessageDeduplicationId);
  });

  it('SNS PublishBatch: query form in, XML answer read for the failed entries', async () => {
    fake.refuse = /"poison":true/;
    const topic = 'arn:aws:sns:eu-west-1:123456789012:predictions';
    expect(await snsSink(topic, aws()).write(messages(5))).toEqual(['rec-3']);
    const form = new URLSearchParams(fake.requests[0]?.body);
    expect(form.get('Action')).toBe('PublishBatch');
    expect(form.get('TopicArn')).toBe(topic);
    expect(form.get('PublishBatchRequestEntries.member.2.Message')).toBe(messages(2)[1]?.body);
    expect(form.get('PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Name')).toBe('model');
    expect(form.get('PublishBatchRequestEntries.member.1.MessageAttributes.entry.1.Value.StringValue')).toBe(
      'iris',
    );
    expect(fake.delivered.sns).toHaveLength(4);
  });

  it('Kinesis PutRecords: base64 data keyed by record, per-record errors reported', async () => {
    fake.refuse = /"poison":true/;
    const stream = 'arn:aws:kinesis:eu-west-1:123456789012:stream/predictions';
    expect(await kinesisSink(stream, aws()).write(messages(4))).toEqual(['rec-3']);
    const request = JSON.parse(fake.requests[0]?.body ?? '{}');
    expect(fake.requests[0]?.headers['x-amz-target']).toBe('Kinesis_20131202.PutRecords');
    expect(request.StreamARN).toBe(stream);
    expect(request.Records[1]).toEqual({
      Data: Buffer.from(messages(2)[1]?.body ?? '').toString('base64'),
      PartitionKey: 'rec-1',
    });
    expect(fake.delivered.kinesis).toHaveLength(3);
  });

  it('a service that is down throws: the processor then redelivers those records', async () => {
    fake.down = true;
    await expect(sqsSink('https://sqs/q', aws()).write(messages(1))).rejects.toThrow(
      'SQS SendMessageBatch answered 503',
    );
    await expect(kinesisSink('s', aws()).write(messages(1))).rejects.toThrow('answered 503');
  });

  it('is refused when its signature does not match the credentials (the fake re-signs every call)', async () => {
    const wrong = { ...aws(), credentials: { ...credentials, secretAccessKey: 'not-the-secret' } };
    await expect(sqsSink('https://sqs/q', wrong).write(messages(1))).rejects.toThrow('answered 403');
  });
});

describe('GCP and Azure sinks', () => {
  it('Pub/Sub topics.publish: base64 data with attributes, the token as bearer', async () => {
    const sink = pubSubSink({
      topic: 'projects/p1/topics/predictions',
      endpoint: fake.endpoint,
      accessToken: async () => 'ya29.token',
    });
    expect(await sink.write(messages(3))).toEqual([]);
    expect(fake.requests[0]?.path).toBe('/v1/projects/p1/topics/predictions:publish');
    expect(fake.requests[0]?.headers.authorization).toBe('Bearer ya29.token');
    const sent = JSON.parse(fake.requests[0]?.body ?? '{}');
    expect(sent.messages[0]).toEqual({
      data: Buffer.from(messages(1)[0]?.body ?? '').toString('base64'),
      attributes: { model: 'iris', version: '1', variant: 'primary' },
    });
    expect(fake.delivered.pubsub).toEqual(messages(3).map((m) => m.body));
  });

  it('Event Hubs send batch: JSON batch with user properties and a valid SAS token', async () => {
    const key = 'c2VjcmV0LWtleS1mb3ItdGVzdHM=';
    const settings = parseStreamSettings(
      {
        STREAM_SINK: `eventhub:Endpoint=sb://ns1.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=${key};EntityPath=predictions`,
        EVENTHUB_ENDPOINT_URL: fake.endpoint,
      },
      'prod',
    );
    if (settings.sink.kind !== 'eventhub') throw new Error('expected an eventhub sink');
    const now = Date.UTC(2026, 10, 30, 12);
    await eventHubSink(settings.sink.connection, () => now).write(messages(2));
    const request = fake.requests[0];
    expect(request?.path).toBe('/predictions/messages?api-version=2014-01&timeout=60');
    expect(request?.headers['content-type']).toBe('application/vnd.microsoft.servicebus.json');
    expect(JSON.parse(request?.body ?? '[]')[0]).toEqual({
      Body: messages(1)[0]?.body,
      UserProperties: { model: 'iris', version: '1', variant: 'primary' },
    });
    const resource = encodeURIComponent('https://ns1.servicebus.windows.net/predictions');
    const expiry = now / 1000 + 3600;
    const sig = createHmac('sha256', key).update(`${resource}\n${expiry}`).digest('base64');
    expect(request?.headers.authorization).toBe(
      `SharedAccessSignature sr=${resource}&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=send`,
    );
  });
});

describe('JSON lines in the model store', () => {
  it.each<StoreKind>(['fs', 's3', 'azure'])('writes one object of lines per batch (%s)', async (kind) => {
    const { url, settings } = await repositoryLocation(kind);
    const store = openStore(url, settings);
    const at = new Date('2026-11-30T17:04:05Z');
    await storeSink(store, 'predictions', 'prod', () => at).write(messages(3));
    const [name] = await store.list('predictions/prod/2026/11/30/17');
    expect(name).toMatch(/^\d+-[0-9a-f-]{36}\.jsonl$/);
    const object = await store.get(`predictions/prod/2026/11/30/17/${name}`);
    if (object.status !== 'ok') throw new Error(`expected the object, got ${object.status}`);
    expect(object.body.toString('utf8')).toBe(
      messages(3)
        .map((m) => `${m.body}\n`)
        .join(''),
    );
  });
});

describe('stream settings', () => {
  it('parses each sink and names the variable of a bad one', () => {
    const env = { AWS_REGION: region, AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b' };
    expect(
      parseStreamSettings({ ...env, STREAM_SINK: 'sqs:https://q', STREAM_MODEL: 'iris' }, 'prod'),
    ).toMatchObject({
      defaults: { model: 'iris', stage: 'prod', format: 'auto' },
      sink: {
        kind: 'sqs',
        target: 'https://q',
        aws: { region, endpoint: `https://sqs.${region}.amazonaws.com` },
      },
    });
    expect(
      parseStreamSettings(
        { ...env, STREAM_SINK: 'kinesis:s', AWS_ENDPOINT_URL_KINESIS: 'http://127.0.0.1:1' },
        'p',
      ).sink,
    ).toMatchObject({ kind: 'kinesis', aws: { endpoint: 'http://127.0.0.1:1' } });
    expect(
      parseStreamSettings(
        { STREAM_SINK: 'pubsub:projects/p/topics/t', PUBSUB_EMULATOR_HOST: '127.0.0.1:8085' },
        'p',
      ).sink,
    ).toEqual({ kind: 'pubsub', topic: 'projects/p/topics/t', endpoint: 'http://127.0.0.1:8085' });
    expect(parseStreamSettings({ STREAM_SINK: 'store', STREAM_DEAD_LETTER: 'store' }, 'p')).toMatchObject({
      sink: { kind: 'store', prefix: 'predictions' },
      deadLetter: { kind: 'store', prefix: 'dead-letters' },
    });
    expect(() => parseStreamSettings({}, 'p')).toThrow('STREAM_SINK: is required');
    expect(() => parseStreamSettings({ STREAM_SINK: 'kafka:x' }, 'p')).toThrow(
      'STREAM_SINK: unknown sink "kafka"',
    );
    expect(() => parseStreamSettings({ STREAM_SINK: 'sqs' }, 'p')).toThrow(
      'STREAM_SINK: sqs needs queue URL',
    );
    expect(() => parseStreamSettings({ STREAM_SINK: 'sqs:https://q' }, 'p')).toThrow('AWS_REGION');
    expect(() => parseStreamSettings({ STREAM_SINK: 'none', STREAM_DEAD_LETTER: 'pubsub:t' }, 'p')).toThrow(
      'STREAM_DEAD_LETTER: pubsub needs projects/<project>/topics/<topic>',
    );
    expect(() => parseStreamSettings({ STREAM_SINK: 'none', STREAM_FORMAT: 'csv' }, 'p')).toThrow(
      'STREAM_FORMAT',
    );
    expect(() => parseStreamSettings({ STREAM_SINK: 'none', STREAM_MODEL_VERSION: 'x' }, 'p')).toThrow(
      'STREAM_MODEL_VERSION',
    );
  });
});
