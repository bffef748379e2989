/**
 * AWS sinks over the services' own HTTP APIs, signed with store/sigv4.ts: SQS SendMessageBatch
 * (JSON protocol), SNS PublishBatch (query protocol, XML answer), Kinesis PutRecords (JSON 1.1).
 * Each splits messages into the service's batch limits and reports the entries it refused.
 */
import { createHash } from 'node:crypto';
import { type AwsCredentials, signRequest } from '../store/sigv4';
import { chunk, type RecordSink, type SinkMessage, send } from './sinks';

export interface AwsSinkSettings {
  region: string;
  credentials: AwsCredentials;
  /** The service's endpoint (AWS_ENDPOINT_URL_<SERVICE> or https://<service>.<region>.amazonaws.com). */
  endpoint: string;
  now?: () => Date;
}

/** POSTs `body` to the endpoint's root, signed for `service`. */
async function post(
  settings: AwsSinkSettings,
  service: string,
  headers: Record<string, string>,
  body: string,
  what: string,
): Promise<string> {
  const url = new URL(settings.endpoint);
  const signed = signRequest({
    method: 'POST',
    host: url.host,
    path: url.pathname || '/',
    search: '',
    credentials: settings.credentials,
    region: settings.region,
    date: (settings.now ?? (() => new Date()))(),
    service,
    headers,
    body,
  });
  const { host: _host, ...sent } = signed;
  return send(url.toString(), { method: 'POST', headers: sent, body }, what);
}

/** SQS SendMessageBatch: ≤ 10 entries and 256 KiB per call; FIFO queues group by model. */
export function sqsSink(queueUrl: string, settings: AwsSinkSettings): RecordSink {
  const fifo = queueUrl.endsWith('.fifo');
  return {
    kind: 'sqs',
    async write(messages) {
      const failed: string[] = [];
      for (const batch of chunk(messages, 10, 256 * 1024)) {
        const entries = batch.map((message, index) => ({
          Id: String(index),
          MessageBody: message.body,
          MessageAttributes: Object.fromEntries(
            Object.entries(message.attributes)
              .slice(0, 10)
              .map(([name, value]) => [name, { DataType: 'String', StringValue: value }]),
          ),
          ...(fifo
            ? {
                MessageGroupId: message.attributes['model'] ?? 'records',
                MessageDeduplicationId: dedupId(message),
              }
            : {}),
        }));
        const headers = {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'AmazonSQS.SendMessageBatch',
        };
        const text = await post(
          settings,
          'sqs',
          headers,
          JSON.stringify({ QueueUrl: queueUrl, Entries: entries }),
          'SQS SendMessageBatch',
        );
        const answer = JSON.parse(text) as { Failed?: { Id: string }[] };
        failed.push(
          ...refused(
            batch,
            (answer.Failed ?? []).map((entry) => entry.Id),
          ),
        );
      }
      return failed;
    },
  };
}

/** SNS PublishBatch: ≤ 10 entries and 256 KiB per call. */
export function snsSink(topicArn: string, settings: AwsSinkSettings): RecordSink {
  return {
    kind: 'sns',
    async write(messages) {
      const failed: string[] = [];
      for (const batch of chunk(messages, 10, 256 * 1024)) {
        const form = new URLSearchParams({
          Action: 'PublishBatch',
          Version: '2010-03-31',
          TopicArn: topicArn,
        });
        batch.forEach((message, index) => {
          const entry = `PublishBatchRequestEntries.member.${index + 1}`;
          form.set(`${entry}.Id`, String(index));
          form.set(`${entry}.Message`, message.body);
          if (topicArn.endsWith('.fifo')) {
            form.set(`${entry}.MessageGroupId`, message.attributes['model'] ?? 'records');
            form.set(`${entry}.MessageDeduplicationId`, dedupId(message));
          }
          Object.entries(message.attributes)
            .slice(0, 10)
            .forEach(([name, value], at) => {
              const attribute = `${entry}.MessageAttributes.entry.${at + 1}`;
              form.set(`${attribute}.Name`, name);
              form.set(`${attribute}.Value.DataType`, 'String');
              form.set(`${attribute}.Value.StringValue`, value);
            });
        });
        const headers = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
        const xml = await post(settings, 'sns', headers, form.toString(), 'SNS PublishBatch');
        const failedSection = /<Failed>([\s\S]*?)<\/Failed>/.exec(xml)?.[1] ?? '';
        const ids = [...failedSection.matchAll(/<Id>([^<]*)<\/Id>/g)].map((match) => match[1] ?? '');
        failed.push(...refused(batch, ids));
      }
      return failed;
    },
  };
}

/** Kinesis PutRecords: ≤ 500 records and 5 MiB per call; the record id is the partition key. */
export function kinesisSink(stream: string, settings: AwsSinkSettings): RecordSink {
  const target = stream.startsWith('arn:') ? { StreamARN: stream } : { StreamName: stream };
  return {
    kind: 'kinesis',
    async write(messages) {
      const failed: string[] = [];
      for (const batch of chunk(messages, 500, 5 * 1024 * 1024)) {
        const records = batch.map((message) => ({
          Data: Buffer.from(message.body, 'utf8').toString('base64'),
          PartitionKey: message.id.slice(0, 256),
        }));
        const headers = {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'Kinesis_20131202.PutRecords',
        };
        const text = await post(
          settings,
          'kinesis',
          headers,
          JSON.stringify({ ...target, Records: records }),
          'Kinesis PutRecords',
        );
        const answer = JSON.parse(text) as { Records?: { ErrorCode?: string }[] };
        (answer.Records ?? []).forEach((entry, index) => {
          const message = batch[index];
          if (entry.ErrorCode !== undefined && message !== undefined) failed.push(message.id);
        });
      }
      return failed;
    },
  };
}

function refused(batch: readonly SinkMessage[], entryIds: readonly string[]): string[] {
  return entryIds.flatMap((entry) => {
    const message = batch[Number(entry)];
    return message === undefined ? [] : [message.id];
  });
}

/** A FIFO deduplication id (≤ 128 characters) that is the same for a redelivered record. */
function dedupId(message: SinkMessage): string {
  return createHash('sha256').update(message.id).update('\u0000').update(message.body).digest('hex');
}
