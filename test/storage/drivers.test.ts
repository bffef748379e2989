import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig, parseStoreSettings } from '../../shared/config';
import { ConfigError } from '../../shared/errors';
import { ModelRepository } from '../../shared/repository/repository';
import {
  DEFAULT_STORE_DEADLINES,
  FsModelStore,
  openStore,
  PreconditionFailedError,
  StoreUnavailableError,
} from '../../shared/store';
import { AzureBlobModelStore } from '../../shared/store/azure-store';
import { GcsModelStore } from '../../shared/store/gcs-store';
import { S3ModelStore } from '../../shared/store/s3-store';
import { AZURE_TEST_CONTAINER, AZURITE_ACCOUNT, freePort, S3_TEST_BUCKET } from '../support/emulators';
import { removeTempDirs } from '../support/fixtures';
import { closeFakeGcs, fakeGcsServer, GCS_TEST_BUCKET, irisPackage } from './stores';

afterAll(async () => {
  await closeFakeGcs();
  removeTempDirs();
});

const prefix = () => `t-${randomBytes(6).toString('hex')}`;

function s3Store(endpoint = process.env['MODELFLEET_TEST_S3_ENDPOINT'] ?? '') {
  return new S3ModelStore({ bucket: S3_TEST_BUCKET, prefix: prefix(), endpoint, forcePathStyle: true });
}

/** Records the headers of every request the S3 client sends (after signing: what goes on the wire). */
interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, unknown>;
  headers: Record<string, string>;
}

function captureHeaders(store: S3ModelStore): SeenRequest[] {
  const seen: SeenRequest[] = [];
  store.client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as SeenRequest;
      seen.push({
        method: request.method,
        path: request.path,
        query: { ...request.query },
        headers: { ...request.headers },
      });
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low' },
  );
  return seen;
}

/** A stand-in S3 endpoint that answers every request with one status and S3-style error XML. */
async function answeringServer(status: number, code: string) {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/xml', 'x-amz-request-id': 'test' });
      res.end(
        status === 304
          ? undefined
          : `<?xml version="1.0"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('S3 driver requests (s3rver does not enforce conditions, so the requests themselves are checked)', () => {
  it('sends If-None-Match: * to create-if-absent, If-Match with the ETag to replace, If-None-Match on conditional reads', async () => {
    const store = s3Store();
    const seen = captureHeaders(store);
    const created = await store.put('m/deployments/prod.json', Buffer.from('{}'), { ifNoneMatch: '*' });
    await store.put('m/deployments/prod.json', Buffer.from('{"a":1}'), { ifMatch: created.etag });
    await store.get('m/deployments/prod.json', { ifNoneMatch: created.etag });
    await store.put('m/1/model.onnx', Buffer.from('plain'));
    const puts = seen.filter((request) => request.method === 'PUT');
    expect(puts[0]?.headers['if-none-match']).toBe('*');
    expect(puts[0]?.headers['if-match']).toBeUndefined();
    expect(puts[1]?.headers['if-match']).toBe(created.etag);
    expect(puts[1]?.headers['if-none-match']).toBeUndefined();
    expect(puts[2]?.headers['if-match']).toBeUndefined();
    expect(puts[2]?.headers['if-none-match']).toBeUndefined();
    const get = seen.find((request) => request.method === 'GET');
    expect(get?.headers['if-none-match']).toBe(created.etag);
    expect(created.etag).toMatch(/^"[0-9a-f]{32}"$/);
  });

  it.each([
    [412, 'PreconditionFailed'],
    [409, 'ConditionalRequestConflict'],
  ])('turns S3 answering %i %s to a conditional write into PreconditionFailedError', async (status, code) => {
    const server = await answeringServer(status, code);
    try {
      const store = s3Store(server.endpoint);
      await expect(store.put('k', Buffer.from('x'), { ifMatch: '"abc"' })).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
      await expect(store.put('k', Buffer.from('x'), { ifNoneMatch: '*' })).rejects.toThrow(
        'k already exists',
      );
    } finally {
      await server.close();
    }
  });

  it('turns a 304 into not-modified and a 404 into not-found', async () => {
    const notModified = await answeringServer(304, '');
    const missing = await answeringServer(404, 'NoSuchKey');
    try {
      expect(await s3Store(notModified.endpoint).get('k', { ifNoneMatch: '"e"' })).toEqual({
        status: 'not-modified',
        etag: '"e"',
      });
      expect(await s3Store(missing.endpoint).get('k')).toEqual({ status: 'not-found' });
    } finally {
      await notModified.close();
      await missing.close();
    }
  });

  it('reports an unreachable endpoint as StoreUnavailableError', async () => {
    const store = s3Store(`http://127.0.0.1:${await freePort()}`);
    await expect(store.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
    const failure = await store.list('').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(StoreUnavailableError);
    expect((failure as StoreUnavailableError).status).toBe(503);
    expect((failure as StoreUnavailableError).headers['retry-after']).toBe('5');
    expect((failure as StoreUnavailableError).message).not.toContain('127.0.0.1');
    expect((failure as StoreUnavailableError).detail).toMatch(/^s3:\/\/modelfleet-test\/t-[0-9a-f]+: : /);
  });

  it('uploads a large artifact in parts (multipart upload) with progress, and reads it back', async () => {
    const store = s3Store();
    const seen = captureHeaders(store);
    const body = randomBytes(11 * 1024 * 1024);
    const progress: number[] = [];
    await store.put('m/1/model.onnx', body, { onProgress: (sent, total) => progress.push(sent / total) });
    const read = await store.get('m/1/model.onnx');
    expect(read.status === 'ok' && read.body.equals(body)).toBe(true);
    const parts = seen.filter((request) => request.method === 'PUT' && 'partNumber' in request.query);
    expect(seen.filter((request) => request.method === 'POST' && 'uploads' in request.query)).toHaveLength(1);
    expect(parts.length).toBe(2);
    expect(seen.filter((request) => request.method === 'POST' && 'uploadId' in request.query)).toHaveLength(
      1,
    );
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toBe(1);
  }, 30_000);
});

describe('large uploads in parts', () => {
  it('Azure stages blocks and commits them, with progress', async () => {
    const store = new AzureBlobModelStore({
      account: AZURITE_ACCOUNT,
      container: AZURE_TEST_CONTAINER,
      prefix: prefix(),
      connectionString: process.env['MODELFLEET_TEST_AZURITE_CONNECTION_STRING'] ?? '',
      blockSizeBytes: 1024 * 1024,
    });
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const progress: number[] = [];
    await store.put('m/1/model.onnx', body, { onProgress: (sent) => progress.push(sent) });
    const blocks = await store.container
      .getBlockBlobClient(`${store.url.split('/').at(-1)}/m/1/model.onnx`)
      .getBlockList('committed');
    expect(blocks.committedBlocks?.length).toBe(4);
    const read = await store.get('m/1/model.onnx');
    expect(read.status === 'ok' && read.body.equals(body)).toBe(true);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toBe(body.length);
  });

  it('GCS uses a resumable upload in chunks, with progress', async () => {
    const fake = await fakeGcsServer();
    const store = new GcsModelStore({
      bucket: GCS_TEST_BUCKET,
      prefix: prefix(),
      apiEndpoint: fake.endpoint,
      chunkSizeBytes: 256 * 1024,
    });
    const body = randomBytes(700 * 1024);
    const before = fake.requests.length;
    const progress: number[] = [];
    await store.put('m/1/model.onnx', body, { onProgress: (sent) => progress.push(sent) });
    const uploads = fake.requests.slice(before);
    expect(
      uploads.filter((r) => r.method === 'POST' && r.query.get('uploadType') === 'resumable'),
    ).toHaveLength(1);
    expect(uploads.filter((r) => r.method === 'PUT' && r.query.has('upload_id')).length).toBe(3);
    const read = await store.get('m/1/model.onnx');
    expect(read.status === 'ok' && read.body.equals(body)).toBe(true);
    expect(progress.at(-1)).toBe(body.length);
  });

  it('GCS revalidates an unchanged object with one metadata request and no download', async () => {
    const fake = await fakeGcsServer();
    const store = new GcsModelStore({
      bucket: GCS_TEST_BUCKET,
      prefix: prefix(),
      apiEndpoint: fake.endpoint,
    });
    const { etag } = await store.put('d.json', Buffer.from('{}'));
    const before = fake.requests.length;
    expect(await store.get('d.json', { ifNoneMatch: etag })).toEqual({ status: 'not-modified', etag });
    const made = fake.requests.slice(before);
    expect(made).toHaveLength(1);
    expect(made[0]?.query.get('alt')).toBeNull();
  });

  it('GCS pairs a body with the generation it was served with, even when replaced during a read', async () => {
    const fake = await fakeGcsServer();
    const store = new GcsModelStore({
      bucket: GCS_TEST_BUCKET,
      prefix: prefix(),
      apiEndpoint: fake.endpoint,
    });
    await store.put('d.json', Buffer.from('old'));
    let replaced = false;
    fake.beforeRequest = (request) => {
      if (!replaced && request.query.get('alt') === 'media') {
        replaced = true;
        const key = `${GCS_TEST_BUCKET}/${decodeURIComponent(request.path.split('/o/')[1] ?? '')}`;
        const current = fake.objects.get(key);
        if (current !== undefined)
          fake.objects.set(key, {
            ...current,
            body: Buffer.from('new'),
            generation: current.generation + 1000,
          });
      }
    };
    try {
      const read = await store.get('d.json');
      expect(replaced).toBe(true);
      const generation = fake.objects.get(
        `${GCS_TEST_BUCKET}/${store.url.split('/').at(-1)}/d.json`,
      )?.generation;
      expect(read).toEqual({ status: 'ok', body: Buffer.from('new'), etag: String(generation) });
    } finally {
      fake.beforeRequest = undefined;
    }
  });

  it('publish reports upload progress through the repository', async () => {
    const repository = new ModelRepository(
      new FsModelStore(`${require('node:os').tmpdir()}/modelfleet-pub-${prefix()}`),
    );
    const progress: [number, number][] = [];
    await repository.publish(await irisPackage(), {
      onProgress: (sent, total) => progress.push([sent, total]),
    });
    const total = (await irisPackage()).artifact.byteLength;
    expect(progress.at(-1)).toEqual([total, total]);
  });
});

describe('repository URLs and store settings', () => {
  it('opens each driver from its URL form', () => {
    expect(openStore('file:///srv/models')).toBeInstanceOf(FsModelStore);
    expect(openStore('/srv/models').url).toBe('file:///srv/models');
    const s3 = openStore('s3://bucket/a/b', { s3Endpoint: 'http://127.0.0.1:9', s3ForcePathStyle: true });
    expect(s3).toBeInstanceOf(S3ModelStore);
    expect(s3.url).toBe('s3://bucket/a/b');
    const az = openStore('az://acct/models/prod', {
      azureConnectionString: process.env['MODELFLEET_TEST_AZURITE_CONNECTION_STRING'] ?? '',
    });
    expect(az).toBeInstanceOf(AzureBlobModelStore);
    expect(az.url).toBe('az://acct/models/prod');
    const gs = openStore('gs://bucket', { gcsApiEndpoint: 'http://127.0.0.1:9' });
    expect(gs).toBeInstanceOf(GcsModelStore);
    expect(gs.url).toBe('gs://bucket');
  });

  it('uses DefaultAzureCredential against the account endpoint when no connection string is set', () => {
    const az = openStore('az://acct/models/prod') as AzureBlobModelStore;
    expect(az.container.url).toBe('https://acct.blob.core.windows.net/models');
    expect(az.container.credential.constructor.name).toBe('DefaultAzureCredential');
    const local = openStore('az://acct/models', {
      azureEndpoint: 'http://127.0.0.1:10000/acct',
    }) as AzureBlobModelStore;
    expect(local.container.url).toBe('http://127.0.0.1:10000/acct/models');
  });

  it.each([
    ['az://acct', 'MODEL_REPOSITORY: "az://acct" names no container; use az://account/container/prefix'],
    ['s3://bucket:9000/x', 'put endpoints and credentials in their own settings'],
    ['ftp://host/x', 'unsupported repository scheme "ftp://"'],
  ])('refuses %s naming the setting', (url, message) => {
    expect(() => openStore(url)).toThrow(ConfigError);
    expect(() => openStore(url)).toThrow(message);
  });

  it('parses endpoints and flags from the environment, failing with the variable name', () => {
    expect(
      parseStoreSettings({
        S3_ENDPOINT: 'http://127.0.0.1:9000/',
        S3_FORCE_PATH_STYLE: 'true',
        AWS_REGION: 'eu-west-1',
        AZURE_STORAGE_BLOB_ENDPOINT: 'http://127.0.0.1:10000/devstoreaccount1',
        GCS_API_ENDPOINT: 'http://127.0.0.1:4443',
        GOOGLE_CLOUD_PROJECT: 'p',
      }),
    ).toEqual({
      deadlines: DEFAULT_STORE_DEADLINES,
      s3Endpoint: 'http://127.0.0.1:9000',
      s3ForcePathStyle: true,
      s3Region: 'eu-west-1',
      azureEndpoint: 'http://127.0.0.1:10000/devstoreaccount1',
      gcsApiEndpoint: 'http://127.0.0.1:4443',
      gcsProjectId: 'p',
    });
    expect(() => parseStoreSettings({ S3_ENDPOINT: 'localhost:9000' })).toThrow(
      'S3_ENDPOINT: expected an http(s) URL',
    );
    expect(() => parseStoreSettings({ S3_FORCE_PATH_STYLE: 'yes' })).toThrow(
      'S3_FORCE_PATH_STYLE: expected true or false',
    );
    expect(() => parseStoreSettings({ GCS_API_ENDPOINT: 'ftp://x' })).toThrow('GCS_API_ENDPOINT');
    expect(() => parseStoreSettings({ AZURE_STORAGE_CONNECTION_STRING: 'hello' })).toThrow(
      'AZURE_STORAGE_CONNECTION_STRING: is not a storage connection string',
    );
    expect(
      parseStoreSettings({
        STORE_CONNECT_TIMEOUT_MS: '500',
        STORE_FIRST_BYTE_TIMEOUT_MS: '1000',
        STORE_TIMEOUT_MS: '4000',
        STORE_RETRY_BUDGET: '0',
      }).deadlines,
    ).toEqual({ connectMs: 500, firstByteMs: 1000, totalMs: 4000, retryTokens: 0 });
    expect(() => parseStoreSettings({ STORE_TIMEOUT_MS: '1000' })).toThrow(
      'STORE_TIMEOUT_MS: must be at least',
    );
    expect(() => parseConfig({ ARTIFACT_CACHE_MB: '-1' })).toThrow('ARTIFACT_CACHE_MB');
    expect(parseConfig({ ARTIFACT_CACHE_DIR: '/var/cache/mf', ARTIFACT_CACHE_MB: '64' })).toMatchObject({
      artifactCacheDir: '/var/cache/mf',
      artifactCacheBytes: 64 * 1024 * 1024,
    });
  });
});
