import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AwsCredentials, signRequest } from '../../shared/store/sigv4';

/**
 * A FAKE of the message services' send APIs the stream sinks call — SQS SendMessageBatch (JSON
 * 1.0), SNS PublishBatch (query protocol, XML), Kinesis PutRecords (JSON 1.1), Pub/Sub
 * topics.publish and Event Hubs send batch — answering with the real APIs' JSON/XML shapes. No
 * emulator for them installs offline; this only checks what each request carries. AWS requests are
 * re-signed with the test credentials and must carry the same signature.
 */
export interface SinkRequest {
  service: 'sqs' | 'sns' | 'kinesis' | 'pubsub' | 'eventhub';
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface FakeSinks {
  endpoint: string;
  requests: SinkRequest[];
  /** Messages accepted, per service, as the bodies the consumer would read. */
  delivered: Record<SinkRequest['service'], string[]>;
  /** Entries whose message text matches are refused one by one (partial failure answers). */
  refuse?: RegExp;
  /** Every call answers 503 (the service is down). */
  down: boolean;
  close(): Promise<void>;
}

export async function startFakeSinks(credentials: AwsCredentials, region: string): Promise<FakeSinks> {
  const fake: FakeSinks = {
    endpoint: '',
    requests: [],
    delivered: { sqs: [], sns: [], kinesis: [], pubsub: [], eventhub: [] },
    down: false,
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const service = serviceOf(req, body);
      fake.requests.push({ service, path: req.url ?? '/', headers: req.headers, body });
      if (fake.down) return answer(res, 503, 'text/plain', 'Service Unavailable');
      if (service === 'sqs' || service === 'sns' || service === 'kinesis') {
        const problem = signatureProblem(req, body, service, credentials, region);
        if (problem !== undefined)
          return answer(res, 403, 'application/json', JSON.stringify({ message: problem }));
      }
      const refused = (text: string) => fake.refuse?.test(text) === true;
      const [status, type, text] = ANSWERS[service](body, refused, fake.delivered[service], req.url ?? '/');
      answer(res, status, type, text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}

function answer(res: http.ServerResponse, status: number, type: string, text: string): void {
  res.writeHead(status, { 'content-type': type }).end(text);
}

function serviceOf(req: http.IncomingMessage, body: string): SinkRequest['service'] {
  const target = String(req.headers['x-amz-target'] ?? '');
  if (target.startsWith('AmazonSQS.')) return 'sqs';
  if (target.startsWith('Kinesis_20131202.')) return 'kinesis';
  if (body.startsWith('Action=PublishBatch')) return 'sns';
  if ((req.url ?? '').includes(':publish')) return 'pubsub';
  return 'eventhub';
}

/** The request re-signed with the known secret must carry the same authorization header. */
function signatureProblem(
  req: http.IncomingMessage,
  body: string,
  service: string,
  credentials: AwsCredentials,
  region: string,
): string | undefined {
  const authorization = String(req.headers['authorization'] ?? '');
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const date = new Date(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  const signedNames = /SignedHeaders=([^,]+)/.exec(authorization)?.[1]?.split(';') ?? [];
  const headers: Record<string, string> = {};
  for (const name of signedNames) {
    if (!['host', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'].includes(name)) {
      headers[name] = String(req.headers[name] ?? '');
    }
  }
  const expected = signRequest({
    method: 'POST',
    host: String(req.headers.host),
    path: req.url ?? '/',
    search: '',
    credentials,
    region,
    date,
    service,
    headers,
    body,
  }).authorization;
  return expected === authorization
    ? undefined
    : `signature mismatch: expected ${expected}, got ${authorization}`;
}

type Answer = (
  body: string,
  refused: (text: string) => boolean,
  delivered: string[],
  path: string,
) => [number, string, string];

const ANSWERS: Record<SinkRequest['service'], Answer> = {
  sqs: (body, refused, delivered) => {
    const request = JSON.parse(body) as { Entries: { Id: string; MessageBody: string }[] };
    const Successful: unknown[] = [];
    const Failed: unknown[] = [];
    for (const entry of request.Entries) {
      if (refused(entry.MessageBody)) {
        Failed.push({
          Id: entry.Id,
          SenderFault: false,
          Code: 'InternalError',
          Message: 'refused by the fake',
        });
      } else {
        delivered.push(entry.MessageBody);
        Successful.push({ Id: entry.Id, MessageId: `m-${delivered.length}`, MD5OfMessageBody: 'x' });
      }
    }
    return [200, 'application/x-amz-json-1.0', JSON.stringify({ Successful, Failed })];
  },
  sns: (body, refused, delivered) => {
    const form = new URLSearchParams(body);
    let ok = '';
    let failed = '';
    for (let n = 1; form.has(`PublishBatchRequestEntries.member.${n}.Id`); n++) {
      const id = form.get(`PublishBatchRequestEntries.member.${n}.Id`);
      const message = form.get(`PublishBatchRequestEntries.member.${n}.Message`) ?? '';
      if (refused(message)) {
        failed += `<member><Id>${id}</Id><Code>InternalError</Code><Message>refused</Message><SenderFault>false</SenderFault></member>`;
      } else {
        delivered.push(message);
        ok += `<member><Id>${id}</Id><MessageId>m-${delivered.length}</MessageId></member>`;
      }
    }
    const xml = `<PublishBatchResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishBatchResult><Successful>${ok}</Successful><Failed>${failed}</Failed></PublishBatchResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishBatchResponse>`;
    return [200, 'text/xml', xml];
  },
  kinesis: (body, refused, delivered) => {
    const request = JSON.parse(body) as { Records: { Data: string; PartitionKey: string }[] };
    let failures = 0;
    const Records = request.Records.map((record, index) => {
      const text = Buffer.from(record.Data, 'base64').toString('utf8');
      if (refused(text)) {
        failures++;
        return { ErrorCode: 'ProvisionedThroughputExceededException', ErrorMessage: 'Rate exceeded' };
      }
      delivered.push(text);
      return { SequenceNumber: String(49_000_000 + index), ShardId: 'shardId-000000000000' };
    });
    return [
      200,
      'application/x-amz-json-1.1',
      JSON.stringify({ FailedRecordCount: failures, Records, EncryptionType: 'NONE' }),
    ];
  },
  pubsub: (body, _refused, delivered) => {
    const request = JSON.parse(body) as { messages: { data: string }[] };
    const messageIds = request.messages.map((message) => {
      delivered.push(Buffer.from(message.data, 'base64').toString('utf8'));
      return String(delivered.length);
    });
    return [200, 'application/json', JSON.stringify({ messageIds })];
  },
  eventhub: (body, _refused, delivered) => {
    for (const message of JSON.parse(body) as { Body: string }[]) delivered.push(message.Body);
    return [201, 'application/xml', ''];
  },
};
