import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { KinesisStreamEvent, MSKEvent, SelfManagedKafkaEvent, SQSEvent } from 'aws-lambda';
import { createStreamHandler, type StreamEvent } from '../../functions/aws/stream/handler';
import { publishMissingSamples } from '../../scripts/lib/samples';
import type { App } from '../../shared/app';
import { sqsSink } from '../../shared/records/aws-sinks';
import { createStreamProcessor } from '../../shared/records/stream-processor';
import { setCanary } from '../../shared/repository/deployment';
import { ModelRepository } from '../../shared/repository/repository';
import { openStore } from '../../shared/store';
import { silentLogger } from '../../shared/telemetry/log';
import { type FakeSinks, startFakeSinks } from '../fakes/stream-sinks-fake';
import { S3_TEST_BUCKET } from '../support/emulators';
import { buildTestApp, removeTempDirs, sampleRepository, sampleRequest } from '../support/fixtures';
import { deploy, twoVersionRepository } from '../traffic/support';

// s3rver accepts any signature; fixed keys keep the SDK (used to publish) from looking elsewhere.
process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
process.env['AWS_EC2_METADATA_DISABLED'] = 'true';

const EVENTS = path.join(__dirname, '..', 'events');
const fixture = <T>(name: string): T => JSON.parse(readFileSync(path.join(EVENTS, name), 'utf8')) as T;
const POISON_MESSAGE = 'inputs[0].datatype: input "input" expects FP32, got INT64';
const credentials = { accessKeyId: 'AKIDSTREAMTEST', secretAccessKey: 'stream-test-secret' };
const RESULTS = 'https://sqs.us-east-2.amazonaws.com/123456789012/predictions';
const DEAD_LETTERS = 'https://sqs.us-east-2.amazonaws.com/123456789012/dead-letters';
let fake: FakeSinks;

beforeAll(async () => {
  fake = await startFakeSinks(credentials, 'us-east-2');
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.down = false;
  delete fake.refuse;
});
afterAll(async () => {
  await fake.close();
  removeTempDirs();
});

const queue = (url: string) => sqsSink(url, { region: 'us-east-2', credentials, endpoint: fake.endpoint });
/** Message bodies the function sent to one queue, parsed. */
const sentTo = (url: string) =>
  fake.requests
    .map((request) => JSON.parse(request.body) as { QueueUrl: string; Entries: { MessageBody: string }[] })
    .filter((request) => request.QueueUrl === url)
    .flatMap((request) => request.Entries.map((entry) => JSON.parse(entry.MessageBody)));

function handlerOver(app: App, withDeadLetter: boolean) {
  const deadLetter = withDeadLetter ? queue(DEAD_LETTERS) : undefined;
  const settings = { defaults: { stage: 'local', format: 'auto' as const }, sink: { kind: 'none' as const } };
  const processor = createStreamProcessor(
    app.records,
    settings,
    { results: queue(RESULTS), deadLetter },
    silentLogger,
  );
  return createStreamHandler(processor);
}
/** Records without a model name it by attribute or header in the fixtures; others are iris. */
const irisDefault = (app: App) => {
  const settings = {
    defaults: { model: 'iris', stage: 'local', format: 'auto' as const },
    sink: { kind: 'none' as const },
  };
  return (withDeadLetter = true) =>
    createStreamHandler(
      createStreamProcessor(
        app.records,
        settings,
        { results: queue(RESULTS), deadLetter: withDeadLetter ? queue(DEAD_LETTERS) : undefined },
        silentLogger,
      ),
    );
};

describe('AWS stream function: SQS, Kinesis and Kafka event source mappings', () => {
  it('SQS: a good batch is scored in one run, results sent, nothing reported failed', async () => {
    const { app, events } = buildTestApp(await sampleRepository());
    const event = fixture<SQSEvent>('sqs-records.json');
    event.Records = event.Records.filter((_, i) => i !== 2);
    // The version's first shared run is checked against runs alone (row-independence.ts): once.
    expect(await irisDefault(app)()(event)).toEqual({ batchItemFailures: [] });
    events.length = 0;
    fake.requests.length = 0;
    expect(await irisDefault(app)()(event)).toEqual({ batchItemFailures: [] });
    const results = sentTo(RESULTS);
    expect(results.map((r) => r.id)).toEqual(event.Records.map((r) => r.messageId));
    expect(results[0]).toMatchObject({
      model_name: 'iris',
      model_version: '1',
      outputs: [{ name: 'probabilities' }, { name: 'label', data: [0, 2] }],
    });
    expect(results[1]).toMatchObject({ predictions: { label: [2] } });
    expect(events.map((e) => [e.route, e.status, e.batchSize])).toEqual([
      ['record', 200, 4],
      ['record', 200, 4],
      ['record', 200, 4],
    ]);
  });

  it('SQS: one poison record goes to the dead-letter queue with its error; only it fails', async () => {
    const { app, events } = buildTestApp(await sampleRepository());
    const event = fixture<SQSEvent>('sqs-records.json');
    expect(await irisDefault(app)()(event)).toEqual({ batchItemFailures: [] });
    const poison = event.Records[2];
    expect(sentTo(DEAD_LETTERS)).toEqual([
      {
        id: poison?.messageId,
        error: { status: 400, errorClass: 'invalid_input', message: POISON_MESSAGE },
        record: poison?.body,
        attributes: {},
      },
    ]);
    expect(sentTo(RESULTS).map((r) => r.id)).toEqual(
      event.Records.filter((r) => r !== poison).map((r) => r.messageId),
    );
    expect(events.map((e) => e.status)).toEqual([200, 200, 400, 200]);
    // With no dead-letter destination the platform redelivers it alone (its redrive policy's DLQ).
    fake.requests.length = 0;
    expect(await irisDefault(app)(false)(event)).toEqual({
      batchItemFailures: [{ itemIdentifier: poison?.messageId }],
    });
    // A dead-letter write that fails redelivers the record instead of losing it.
    fake.refuse = /"errorClass":"invalid_input"/;
    expect(await irisDefault(app)()(event)).toEqual({
      batchItemFailures: [{ itemIdentifier: poison?.messageId }],
    });
  });

  it('SQS FIFO: after a failed record the rest of the batch is redelivered too, in order', async () => {
    const { app } = buildTestApp(await sampleRepository());
    const event = fixture<SQSEvent>('sqs-records.json');
    for (const record of event.Records) record.eventSourceARN = `${record.eventSourceARN}.fifo`;
    const { batchItemFailures } = await irisDefault(app)(false)(event);
    expect(batchItemFailures.map((f) => f.itemIdentifier)).toEqual(
      event.Records.slice(2).map((r) => r.messageId),
    );
  });

  it('Kinesis: a poison record without a dead-letter sink is reported by its sequence number', async () => {
    const { app } = buildTestApp(await sampleRepository());
    const event = fixture<KinesisStreamEvent>('kinesis-records.json');
    expect(await irisDefault(app)(false)(event)).toEqual({
      batchItemFailures: [{ itemIdentifier: event.Records[2]?.kinesis.sequenceNumber }],
    });
    expect(sentTo(RESULTS)).toHaveLength(3);
    expect(await irisDefault(app)()(event)).toEqual({ batchItemFailures: [] });
    expect(sentTo(DEAD_LETTERS).map((d) => d.id)).toEqual([event.Records[2]?.kinesis.sequenceNumber]);
  });

  it.each([
    ['Amazon MSK', 'msk-records.json'],
    ['self-managed Kafka', 'self-managed-kafka-records.json'],
  ])('%s: the model from a record header, failures as {partition, offset}', async (_name, file) => {
    const { app } = buildTestApp(await sampleRepository());
    const event = fixture<MSKEvent | SelfManagedKafkaEvent>(file);
    // Partition 0's records name the model in a header; partition 1's do not, and there is no default.
    const response = await handlerOver(app, false)(event as StreamEvent);
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: 'records-1', offset: 7 } },
        { itemIdentifier: { partition: 'records-1', offset: 8 } },
      ],
    });
    expectDocumentedKafkaIdentifiers(response, event);
    expect(sentTo(RESULTS).map((r) => r.id)).toEqual(['records-0@15', 'records-0@16']);
    fake.requests.length = 0;
    expect(await irisDefault(app)(false)(event as StreamEvent)).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: 'records-1', offset: 7 } }],
    });
  });

  /**
   * The schema of https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html#kafka-partial-batch-response:
   * `{"itemIdentifier": {"partition": "topic-partition_number", "offset": 100}}`, an object with exactly
   * those two keys, the offset a JSON number; "any invalid topic-partition_number or offset returned
   * that was not present in the invoked event" makes Lambda retry the whole batch.
   */
  function expectDocumentedKafkaIdentifiers(response: unknown, event: MSKEvent | SelfManagedKafkaEvent) {
    const sent = JSON.parse(JSON.stringify(response)) as { batchItemFailures: { itemIdentifier: unknown }[] };
    const inEvent = Object.values(event.records)
      .flat()
      .map((record) => ({ partition: `${record.topic}-${record.partition}`, offset: record.offset }));
    for (const { itemIdentifier } of sent.batchItemFailures) {
      expect(Object.keys(itemIdentifier as object).sort()).toEqual(['offset', 'partition']);
      const { partition, offset } = itemIdentifier as { partition: unknown; offset: unknown };
      expect({ partition: typeof partition, offset: typeof offset }).toEqual({
        partition: 'string',
        offset: 'number',
      });
      expect(inEvent).toContainEqual({ partition, offset });
    }
  }

  it('a whole-batch store outage fails the invocation (Lambda retries it); the retry loses nothing', async () => {
    const proxy = await cuttableProxy(new URL(process.env['MODELFLEET_TEST_S3_ENDPOINT'] ?? '').port);
    const store = openStore(`s3://${S3_TEST_BUCKET}/stream-${Date.now()}`, {
      s3Endpoint: proxy.endpoint,
      s3ForcePathStyle: true,
      s3Region: 'us-east-1',
      s3Credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    try {
      await publishMissingSamples(new ModelRepository(store), ['local']);
      const { app, events } = buildTestApp(store);
      const handler = irisDefault(app)();
      const event = fixture<SQSEvent>('sqs-records.json');
      proxy.set(true);
      await expect(handler(event)).rejects.toThrow('none of the 4 records could be processed');
      expect(fake.requests).toEqual([]);
      expect(events.map((e) => [e.status, e.errorClass])).toEqual(Array(4).fill([503, 'unavailable']));
      proxy.set(false);
      expect(await handler(event)).toEqual({ batchItemFailures: [] });
      expect(sentTo(RESULTS)).toHaveLength(3);
      expect(sentTo(DEAD_LETTERS)).toHaveLength(1);
      // The sinks down: nothing is acknowledged, the batch is retried whole.
      fake.down = true;
      await expect(handler(event)).rejects.toThrow('the batch will be retried');
    } finally {
      await proxy.close();
    }
  });

  it('splits records over a canary like requests, and names the variant in each result', async () => {
    const repository = await twoVersionRepository();
    await deploy(repository, 'iris', (c) => setCanary(c, 2, 30, new Date()));
    const event = fixture<SQSEvent>('sqs-records.json');
    const template = event.Records[0];
    if (template === undefined) throw new Error('fixture has no record');
    event.Records = Array.from({ length: 100 }, (_, i) => ({
      ...template,
      messageId: `m-${i}`,
      body: JSON.stringify(sampleRequest('iris')),
    }));
    const run = async () => {
      fake.requests.length = 0;
      const { app } = buildTestApp(repository, { config: { deploymentTtlMs: 0 }, seed: 5 });
      expect(await irisDefault(app)()(event)).toEqual({ batchItemFailures: [] });
      return sentTo(RESULTS).map((r) => (r.parameters as { variant: string }).variant);
    };
    const variants = await run();
    const canary = variants.filter((v) => v === 'canary').length;
    expect(canary).toBeGreaterThan(15);
    expect(canary).toBeLessThan(45);
    const attributes = fake.requests.flatMap((r) =>
      JSON.parse(r.body).Entries.map(
        (e: { MessageAttributes: { variant: { StringValue: string } } }) =>
          e.MessageAttributes.variant.StringValue,
      ),
    );
    expect(attributes).toEqual(variants);
    expect(await run()).toEqual(variants);
  });
});

/** A TCP proxy to the S3 emulator that can be cut: connections are refused while `cut`. */
async function cuttableProxy(port: string) {
  const sockets = new Set<net.Socket>();
  const proxy = {
    cut: false,
    endpoint: '',
    /** Cuts (kept-alive connections too) or restores the way to the store. */
    set(cut: boolean) {
      proxy.cut = cut;
      if (cut) for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = net.createServer((client) => {
    if (proxy.cut) return void client.destroy();
    const upstream = net.connect(Number(port), '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return proxy;
}
