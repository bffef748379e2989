import { createHash, createHmac, randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { environmentCredentials, parseStoreSettings } from '../../shared/config';
import { openStore, StoreUnavailableError } from '../../shared/store';
import { parseListPage, type S3Credentials } from '../../shared/store/s3-reader';
import { S3ModelStore } from '../../shared/store/s3-store';
import { canonicalQuery, escapeUri, signRequest } from '../../shared/store/sigv4';
import { freePort, S3_TEST_BUCKET } from '../support/emulators';

// The SDK-free read path (shared/store/s3-reader.ts). s3rver checks the access key but not SigV4
// signatures, so signatures are compared with the AWS SDK's own signer (@smithy/signature-v4).
// The SDK writes the fixtures: it needs credentials, and must not look for them off this machine.
process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
const S3RVER_KEYS: S3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const endpoint = () => process.env['MODELFLEET_TEST_S3_ENDPOINT'] ?? '';
const prefix = () => `t-${randomBytes(6).toString('hex')}`;

function readerStore(options: { credentials?: S3Credentials; endpoint?: string; prefix?: string } = {}) {
  return new S3ModelStore({
    bucket: S3_TEST_BUCKET,
    prefix: options.prefix ?? prefix(),
    endpoint: options.endpoint ?? endpoint(),
    forcePathStyle: true,
    readCredentials: options.credentials ?? S3RVER_KEYS,
  });
}

/** A store that reads and writes through the SDK (fixtures). */
function sdkStore(at: string) {
  return new S3ModelStore({ bucket: S3_TEST_BUCKET, prefix: at, endpoint: endpoint(), forcePathStyle: true });
}

/** The SDK client, if the store created one (it must not for reads). */
const sdkClientOf = (store: S3ModelStore) => (store as unknown as { sdkClient?: unknown }).sdkClient;

/** An endpoint that answers with the given responses in turn and records the request headers. */
async function scriptedServer(
  answers: { status: number; body?: string; headers?: Record<string, string> }[],
) {
  const seen: IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    const answer = answers[Math.min(seen.length - 1, answers.length - 1)] ?? { status: 500 };
    res.writeHead(answer.status, { 'content-type': 'application/xml', ...answer.headers });
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    seen,
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('S3 reads without the SDK, against s3rver', () => {
  it('reads what the SDK wrote, lists children and answers conditional reads, without creating an SDK client', async () => {
    const at = prefix();
    const writer = sdkStore(at);
    const body = randomBytes(300 * 1024);
    const { etag } = await writer.put('m/1/model.onnx', body);
    await writer.put('m/deployments/prod.json', Buffer.from('{"a":1}'));
    await writer.put('other/1/manifest.json', Buffer.from('{}'));

    const store = readerStore({ prefix: at });
    const read = await store.get('m/1/model.onnx');
    expect(read.status === 'ok' && read.body.equals(body)).toBe(true);
    expect(read.status === 'ok' && read.etag).toBe(etag);
    expect(await store.get('m/1/model.onnx', { ifNoneMatch: etag })).toEqual({
      status: 'not-modified',
      etag,
    });
    expect(await store.get('m/2/model.onnx')).toEqual({ status: 'not-found' });
    expect(await store.list('')).toEqual(['m', 'other']);
    expect(await store.list('m')).toEqual(['1', 'deployments']);
    expect(await store.list('nothing')).toEqual([]);
    expect(sdkClientOf(store)).toBeUndefined();
  });

  it('reads keys that need percent-encoding', async () => {
    const at = prefix();
    const writer = sdkStore(at);
    const keys = ["a b/c+d/e=f&g'(h)*!~.json", 'ünï/cödé/日本.json'];
    for (const key of keys) await writer.put(key, Buffer.from(key));
    const store = readerStore({ prefix: at });
    for (const key of keys) {
      const read = await store.get(key);
      expect(read.status === 'ok' && read.body.toString()).toBe(key);
    }
    expect(await store.list('')).toEqual(['a b', 'ünï']);
  });

  it('fails with StoreUnavailableError naming the S3 error when S3 refuses the credentials', async () => {
    const store = readerStore({ credentials: { accessKeyId: 'UNKNOWN', secretAccessKey: 'S3RVER' } });
    const failure = await store.get('k').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as StoreUnavailableError).status).toBe(503);
    expect((failure as StoreUnavailableError).detail).toContain('403 InvalidAccessKeyId');
    await expect(store.list('')).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

/** sha256 and HMAC-sha256 from node:crypto, in the shape the SDK's signer takes. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

describe('SigV4 signatures', () => {
  it.each([
    ['a plain key', '/bucket/m/1/model.onnx', {}, undefined],
    [
      'a key that needs encoding',
      `/bucket/${['a b', "c+d=e&f'(g)*!~", 'ünï', '日本.json'].map(escapeUri).join('/')}`,
      {},
      undefined,
    ],
    [
      'a listing with a session token',
      '/bucket/',
      { 'list-type': '2', prefix: 'a b/', delimiter: '/', 'continuation-token': 'x+y=' },
      'token',
    ],
  ])('match the AWS SDK signer for %s', async (_, path, query: Record<string, string>, sessionToken) => {
    const credentials = {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      ...(sessionToken === undefined ? {} : { sessionToken }),
    };
    const date = new Date('2026-11-27T12:34:56.789Z');
    const ours = signRequest({
      method: 'GET',
      host: 's3.eu-west-1.amazonaws.com',
      path,
      search: canonicalQuery(query),
      credentials,
      region: 'eu-west-1',
      date,
    });
    const sdkSigner = new SignatureV4({
      service: 's3',
      region: 'eu-west-1',
      credentials,
      sha256: NodeSha256,
      uriEscapePath: false,
      applyChecksum: true,
    });
    const theirs = await sdkSigner.sign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: 's3.eu-west-1.amazonaws.com',
        path,
        query,
        headers: {
          host: 's3.eu-west-1.amazonaws.com',
          'x-amz-content-sha256': ours['x-amz-content-sha256'] ?? '',
        },
      },
      { signingDate: date },
    );
    expect(ours['authorization']).toBe(theirs.headers['authorization']);
    expect(ours['x-amz-date']).toBe(theirs.headers['x-amz-date']);
  });
});

describe('SigV4 for the other services the project calls (the pre-traffic hook)', () => {
  it.each([
    [
      'a synchronous Lambda invoke of a qualified version',
      'lambda',
      `/2015-03-31/functions/${encodeURIComponent('arn:aws:lambda:eu-west-1:123456789012:function:mf-prod-infer:7')}/invocations`,
      { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
      '{"rawPath":"/v2/health/live"}',
    ],
    [
      'a CodeDeploy lifecycle hook status',
      'codedeploy',
      '/',
      {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus',
      },
      '{"deploymentId":"d-1","status":"Succeeded"}',
    ],
  ])('match the AWS SDK signer for %s', async (_, service, path, headers: Record<string, string>, body) => {
    const credentials = {
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      sessionToken: 'token',
    };
    const date = new Date('2026-11-27T12:34:56.789Z');
    const host = `${service}.eu-west-1.amazonaws.com`;
    const ours = signRequest({
      method: 'POST',
      host,
      path,
      search: '',
      credentials,
      region: 'eu-west-1',
      date,
      service,
      headers,
      body,
    });
    const sdkSigner = new SignatureV4({ service, region: 'eu-west-1', credentials, sha256: NodeSha256 });
    const theirs = await sdkSigner.sign(
      {
        method: 'POST',
        protocol: 'https:',
        hostname: host,
        path,
        query: {},
        headers: { host, ...headers },
        body,
      },
      { signingDate: date },
    );
    expect(ours['authorization']).toBe(theirs.headers['authorization']);
  });
});

describe('S3 reader requests and answers', () => {
  it('sends the session token and If-None-Match, and maps 304 and 404', async () => {
    const server = await scriptedServer([{ status: 304, headers: { etag: '"e"' } }, { status: 404 }]);
    try {
      const store = readerStore({
        endpoint: server.endpoint,
        credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret', sessionToken: 'token' },
      });
      expect(await store.get('k', { ifNoneMatch: '"e"' })).toEqual({ status: 'not-modified', etag: '"e"' });
      expect(await store.get('k')).toEqual({ status: 'not-found' });
      expect(server.seen[0]?.['if-none-match']).toBe('"e"');
      expect(server.seen[0]?.['x-amz-security-token']).toBe('token');
      expect(server.seen[0]?.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKID\/\d{8}\/us-east-1\/s3\/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
      );
    } finally {
      await server.close();
    }
  });

  it('retries a 5xx once, then reports the store unavailable', async () => {
    const flaky = await scriptedServer([
      { status: 503, body: '<Error><Code>SlowDown</Code></Error>' },
      { status: 200, body: 'ok' },
    ]);
    const down = await scriptedServer([
      { status: 500, body: '<Error><Code>InternalError</Code><Message>boom</Message></Error>' },
    ]);
    try {
      const read = await readerStore({ endpoint: flaky.endpoint }).get('k');
      expect(read.status === 'ok' && read.body.toString()).toBe('ok');
      expect(flaky.seen).toHaveLength(2);
      const failure = await readerStore({ endpoint: down.endpoint })
        .get('k')
        .catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(StoreUnavailableError);
      expect((failure as StoreUnavailableError).detail).toContain('500 InternalError: boom');
      expect(down.seen).toHaveLength(2);
    } finally {
      await flaky.close();
      await down.close();
    }
  });

  it('refuses a body cut short of its Content-Length', async () => {
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      res.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const store = readerStore({ endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      await expect(store.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('reports an unreachable endpoint as StoreUnavailableError without naming it to clients', async () => {
    const store = readerStore({ endpoint: `http://127.0.0.1:${await freePort()}` });
    const failure = await store.list('').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as StoreUnavailableError).message).not.toContain('127.0.0.1');
  });

  it('parses list pages: XML entities, common prefixes, continuation', () => {
    const page = parseListPage(
      '<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>p/a&amp;b&#x2F;c</Key></Contents>' +
        '<CommonPrefixes><Prefix>p/x&lt;y/</Prefix></CommonPrefixes><NextContinuationToken>t&#61;1</NextContinuationToken></ListBucketResult>',
    );
    expect(page).toEqual({ keys: ['p/a&b/c'], commonPrefixes: ['p/x<y/'], nextToken: 't=1' });
    expect(() =>
      parseListPage('<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>'),
    ).toThrow('NextContinuationToken');
  });
});

describe('which S3 read path a store takes', () => {
  it('takes the environment credentials the SDK chain would take first, unless a profile is named', () => {
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' })).toEqual({
      accessKeyId: 'a',
      secretAccessKey: 's',
    });
    expect(
      environmentCredentials({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' }),
    ).toEqual({ accessKeyId: 'a', secretAccessKey: 's', sessionToken: 't' });
    expect(environmentCredentials({ AWS_ACCESS_KEY_ID: 'a' })).toBeUndefined();
    expect(
      environmentCredentials({ AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's', AWS_PROFILE: 'dev' }),
    ).toBeUndefined();
  });

  it('openStore reads without the SDK when the environment has credentials, through the SDK otherwise', () => {
    const saved = { ...process.env };
    try {
      process.env['AWS_ACCESS_KEY_ID'] = 'a';
      process.env['AWS_SECRET_ACCESS_KEY'] = 's';
      const open = () => openStore('s3://b/p', parseStoreSettings(process.env)) as S3ModelStore;
      expect(open().readsWithoutSdk).toBe(true);
      process.env['AWS_PROFILE'] = 'dev';
      expect(open().readsWithoutSdk).toBe(false);
    } finally {
      process.env = saved;
    }
  });
});

describe('a package without the S3 SDK (as the Lambda packages are built)', () => {
  it('still reads with environment credentials, and says what is missing when asked to write', async () => {
    const at = prefix();
    await sdkStore(at).put('m/1/manifest.json', Buffer.from('{}'));
    const missing = () => {
      throw Object.assign(new Error("Cannot find module '@aws-sdk/client-s3'"), { code: 'MODULE_NOT_FOUND' });
    };
    let Store: typeof S3ModelStore | undefined;
    jest.isolateModules(() => {
      jest.doMock('@aws-sdk/client-s3', missing);
      jest.doMock('@aws-sdk/lib-storage', missing);
      Store = (require('../../shared/store/s3-store') as typeof import('../../shared/store/s3-store'))
        .S3ModelStore;
    });
    try {
      if (Store === undefined) throw new Error('module not loaded');
      const store = new Store({
        bucket: S3_TEST_BUCKET,
        prefix: at,
        endpoint: endpoint(),
        forcePathStyle: true,
        readCredentials: S3RVER_KEYS,
      });
      const read = await store.get('m/1/manifest.json');
      expect(read.status === 'ok' && read.body.toString()).toBe('{}');
      await expect(store.put('m/2/manifest.json', Buffer.from('{}'))).rejects.toThrow(
        'S3 writes, and reads without credentials in the environment, need @aws-sdk/client-s3',
      );
    } finally {
      jest.dontMock('@aws-sdk/client-s3');
      jest.dontMock('@aws-sdk/lib-storage');
    }
  });
});
