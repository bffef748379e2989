import type { S3Client } from '@aws-sdk/client-s3';
import { type S3Credentials, S3ObjectReader } from './s3-reader';
import {
  childListPrefix,
  conditionFailed,
  DEFAULT_STORE_DEADLINES,
  type GetOptions,
  type GetResult,
  joinKey,
  type ModelStore,
  type PutOptions,
  type RangeResult,
  RetryBudget,
  readWithinDeadline,
  type StoreDeadlines,
  StoreUnavailableError,
  sizeFromContentRange,
} from './types';

export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  region?: string;
  /** An S3-compatible endpoint (MinIO, Ceph, R2, a local test server). */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Bodies at least this large are uploaded in parts (S3's minimum part size is 5 MiB). */
  partSizeBytes?: number;
  /** For tests that need to see the requests; production uses the default client. */
  client?: S3Client;
  /**
   * Reads (get, list) go through the SDK-free reader with these credentials; writes and, without
   * them, reads use the SDK and its default credential chain.
   */
  readCredentials?: S3Credentials;
  /** Deadlines of reads (both paths) and connections (SDK), and the reader's retry budget. */
  deadlines?: StoreDeadlines;
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/**
 * S3 and S3-compatible stores. Credentials come from the AWS SDK's default chain (environment,
 * shared config/SSO profile, web identity, ECS/EC2 role — on Lambda the function's role).
 * Conditional writes use S3's `If-Match` / `If-None-Match: *` on PutObject.
 *
 * The SDK is loaded on first use: a serving instance with credentials in its environment (every
 * Lambda) reads through `S3ObjectReader` and never loads it, which keeps it off the cold start.
 */
export class S3ModelStore implements ModelStore {
  readonly url: string;
  private sdkClient: S3Client | undefined;
  private readonly reader: S3ObjectReader | undefined;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly deadlines: StoreDeadlines;
  /** The SDK retries within its own quota: no second layer of retries on top. */
  private readonly budget = new RetryBudget(0);

  constructor(private readonly options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = trimSlashes(options.prefix);
    this.partSize = Math.max(5 * 1024 * 1024, options.partSizeBytes ?? DEFAULT_PART_SIZE);
    this.url = `s3://${this.bucket}${this.prefix === '' ? '' : `/${this.prefix}`}`;
    this.sdkClient = options.client;
    this.reader =
      options.readCredentials === undefined
        ? undefined
        : new S3ObjectReader({
            bucket: this.bucket,
            region: options.region ?? 'us-east-1',
            credentials: options.readCredentials,
            ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
            ...(options.forcePathStyle === undefined ? {} : { forcePathStyle: options.forcePathStyle }),
            ...(options.deadlines === undefined ? {} : { deadlines: options.deadlines }),
          });
    this.deadlines = options.deadlines ?? DEFAULT_STORE_DEADLINES;
  }

  /** The SDK client, created (and the SDK loaded) on first use. */
  get client(): S3Client {
    if (this.sdkClient === undefined) {
      const { S3Client: Client } = sdk();
      this.sdkClient = new Client({
        region: this.options.region ?? 'us-east-1',
        ...(this.options.endpoint === undefined ? {} : { endpoint: this.options.endpoint }),
        forcePathStyle: this.options.forcePathStyle ?? false,
        // One retry, drawn from the SDK's retry quota (its standard mode's budget: retries stop
        // while calls keep failing); reads also stop at the total deadline (readWithinDeadline).
        maxAttempts: 2,
        // A store that accepts connections and then says nothing fails the call, not the request.
        requestHandler: {
          connectionTimeout: this.deadlines.connectMs,
          requestTimeout: this.deadlines.totalMs,
        },
      });
    }
    return this.sdkClient;
  }

  /** Whether reads bypass the SDK (see the class comment). */
  get readsWithoutSdk(): boolean {
    return this.reader !== undefined;
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    if (this.reader !== undefined) return this.readerGet(this.reader, key, options);
    const { GetObjectCommand } = sdk();
    try {
      return await readWithinDeadline(this.deadlines, this.budget, `GET ${key}`, async (abortSignal) => {
        try {
          const result = await this.client.send(
            new GetObjectCommand({
              Bucket: this.bucket,
              Key: this.keyOf(key),
              ...(options.ifNoneMatch === undefined ? {} : { IfNoneMatch: options.ifNoneMatch }),
            }),
            { abortSignal },
          );
          const body = Buffer.from((await result.Body?.transformToByteArray()) ?? new Uint8Array());
          return { status: 'ok', body, etag: result.ETag ?? '' } as const;
        } catch (err) {
          const status = statusOf(err);
          if (status === 304) return { status: 'not-modified', etag: options.ifNoneMatch ?? '' } as const;
          if (status === 404 || nameOf(err) === 'NoSuchKey') return { status: 'not-found' } as const;
          throw err;
        }
      });
    } catch (err) {
      const status = statusOf(err);
      if (status === 304) return { status: 'not-modified', etag: options.ifNoneMatch ?? '' };
      if (status === 404 || nameOf(err) === 'NoSuchKey') return { status: 'not-found' };
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  /** Always through the SDK: only batch jobs read ranges, and they run where the SDK is. */
  async getRange(key: string, start: number, end: number): Promise<RangeResult | undefined> {
    const { GetObjectCommand, HeadObjectCommand } = sdk();
    const Key = this.keyOf(key);
    try {
      return await readWithinDeadline(this.deadlines, this.budget, `GET ${key}`, async (abortSignal) => {
        try {
          const result = await this.client.send(
            new GetObjectCommand({ Bucket: this.bucket, Key, Range: `bytes=${start}-${end - 1}` }),
            { abortSignal },
          );
          const body = Buffer.from((await result.Body?.transformToByteArray()) ?? new Uint8Array());
          const size = sizeFromContentRange(result.ContentRange) ?? body.byteLength;
          return { body, size };
        } catch (err) {
          if (statusOf(err) === 404 || nameOf(err) === 'NoSuchKey') return undefined;
          if (statusOf(err) !== 416) throw err;
          // Past the end (or an empty object): no bytes, and the size from the object's head.
          const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }), {
            abortSignal,
          });
          return { body: Buffer.alloc(0), size: head.ContentLength ?? 0 };
        }
      });
    } catch (err) {
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const conditional = options.ifMatch !== undefined || options.ifNoneMatch !== undefined;
    const { PutObjectCommand } = sdk();
    try {
      if (!conditional && body.byteLength >= this.partSize) return await this.putInParts(key, body, options);
      const result = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.keyOf(key),
          Body: body,
          ContentLength: body.byteLength,
          ...(options.contentType === undefined ? {} : { ContentType: options.contentType }),
          ...(options.ifMatch === undefined ? {} : { IfMatch: options.ifMatch }),
          ...(options.ifNoneMatch === undefined ? {} : { IfNoneMatch: options.ifNoneMatch }),
        }),
      );
      options.onProgress?.(body.byteLength, body.byteLength);
      return { etag: result.ETag ?? '' };
    } catch (err) {
      const status = statusOf(err);
      // 409 ConditionalRequestConflict: another conditional write to the key was in flight.
      if (conditional && (status === 412 || status === 409)) {
        throw conditionFailed(key, options);
      }
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const listPrefix = childListPrefix(this.prefix, prefix);
    try {
      const names = await this.listPages(listPrefix, '/');
      // Some S3-compatible servers (s3rver) drop common prefixes that hold no object directly
      // (`<model>/` above `<model>/<n>/…`). An empty answer is re-asked without a delimiter; on
      // real S3 that costs one extra request, for a prefix that really is empty.
      return names.size > 0 ? [...names].sort() : [...(await this.listPages(listPrefix, undefined))].sort();
    } catch (err) {
      throw new StoreUnavailableError(`${this.url}: ${prefix}`, err);
    }
  }

  private async readerGet(reader: S3ObjectReader, key: string, options: GetOptions): Promise<GetResult> {
    try {
      const result = await reader.get(this.keyOf(key), options.ifNoneMatch);
      if (result.status === 304) return { status: 'not-modified', etag: options.ifNoneMatch ?? result.etag };
      if (result.status === 404) return { status: 'not-found' };
      return { status: 'ok', body: result.body, etag: result.etag };
    } catch (err) {
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  /** Immediate children of `listPrefix`, from a delimited listing or derived from full keys. */
  private async listPages(listPrefix: string, delimiter: '/' | undefined): Promise<Set<string>> {
    const names = new Set<string>();
    const reader = this.reader;
    if (reader !== undefined) {
      let next: string | undefined;
      do {
        const page = await reader.listPage(listPrefix, delimiter, next);
        addChildren(names, listPrefix, page.commonPrefixes, page.keys);
        next = page.nextToken;
      } while (next !== undefined);
      return names;
    }
    const { ListObjectsV2Command } = sdk();
    let token: string | undefined;
    do {
      const continuation = token;
      const page = await readWithinDeadline(
        this.deadlines,
        this.budget,
        `LIST ${listPrefix}`,
        (abortSignal) =>
          this.client.send(
            new ListObjectsV2Command({
              Bucket: this.bucket,
              Prefix: listPrefix,
              ...(delimiter === undefined ? {} : { Delimiter: delimiter }),
              ...(continuation === undefined ? {} : { ContinuationToken: continuation }),
            }),
            { abortSignal },
          ),
      );
      addChildren(
        names,
        listPrefix,
        (page.CommonPrefixes ?? []).map((common) => common.Prefix ?? ''),
        (page.Contents ?? []).map((object) => object.Key ?? ''),
      );
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return names;
  }

  private async putInParts(key: string, body: Uint8Array, options: PutOptions): Promise<{ etag: string }> {
    const { Upload } = loadSdk(
      () => require('@aws-sdk/lib-storage') as typeof import('@aws-sdk/lib-storage'),
    );
    const upload = new Upload({
      client: this.client,
      partSize: this.partSize,
      queueSize: 4,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: this.keyOf(key),
        Body: body,
        ...(options.contentType === undefined ? {} : { ContentType: options.contentType }),
      },
    });
    upload.on('httpUploadProgress', (progress) => {
      options.onProgress?.(progress.loaded ?? 0, body.byteLength);
    });
    const result = await upload.done();
    return { etag: result.ETag ?? '' };
  }

  private keyOf(key: string): string {
    return joinKey(this.prefix, key);
  }
}

/**
 * The SDK, loaded on first use. The AWS function packages leave it out (serverless.yml): there,
 * reads go through S3ObjectReader and nothing writes, so reaching this is a packaging mistake.
 */
function sdk(): typeof import('@aws-sdk/client-s3') {
  return loadSdk(() => require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3'));
}

function loadSdk<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new Error(
      'S3 writes, and reads without credentials in the environment, need @aws-sdk/client-s3 and @aws-sdk/lib-storage, which this package does not include',
    );
  }
}

/** Whether the SDK can be loaded here, without loading it. */
export function sdkAvailable(): boolean {
  try {
    require.resolve('@aws-sdk/client-s3');
    return true;
  } catch {
    return false;
  }
}

function addChildren(names: Set<string>, listPrefix: string, prefixes: string[], keys: string[]): void {
  for (const prefix of prefixes) {
    const name = prefix.slice(listPrefix.length).replace(/\/$/, '');
    if (name) names.add(name);
  }
  for (const key of keys) {
    const name = key.slice(listPrefix.length).split('/')[0];
    if (name) names.add(name);
  }
}

function trimSlashes(text: string): string {
  return text.replace(/^\/+|\/+$/g, '');
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}
