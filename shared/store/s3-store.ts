import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  childListPrefix,
  conditionFailed,
  type GetOptions,
  type GetResult,
  joinKey,
  type ModelStore,
  type PutOptions,
  StoreUnavailableError,
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
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;

/**
 * S3 and S3-compatible stores. Credentials come from the AWS SDK's default chain (environment,
 * shared config/SSO profile, web identity, ECS/EC2 role — on Lambda the function's role).
 * Conditional writes use S3's `If-Match` / `If-None-Match: *` on PutObject.
 */
export class S3ModelStore implements ModelStore {
  readonly url: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = trimSlashes(options.prefix);
    this.partSize = Math.max(5 * 1024 * 1024, options.partSizeBytes ?? DEFAULT_PART_SIZE);
    this.url = `s3://${this.bucket}${this.prefix === '' ? '' : `/${this.prefix}`}`;
    this.client =
      options.client ??
      new S3Client({
        region: options.region ?? 'us-east-1',
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        forcePathStyle: options.forcePathStyle ?? false,
        // Fail over to stale-if-error quickly rather than retrying for seconds on a cold path.
        maxAttempts: 2,
      });
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    try {
      const result = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.keyOf(key),
          ...(options.ifNoneMatch === undefined ? {} : { IfNoneMatch: options.ifNoneMatch }),
        }),
      );
      const body = Buffer.from((await result.Body?.transformToByteArray()) ?? new Uint8Array());
      return { status: 'ok', body, etag: result.ETag ?? '' };
    } catch (err) {
      const status = statusOf(err);
      if (status === 304) return { status: 'not-modified', etag: options.ifNoneMatch ?? '' };
      if (status === 404 || nameOf(err) === 'NoSuchKey') return { status: 'not-found' };
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const conditional = options.ifMatch !== undefined || options.ifNoneMatch !== undefined;
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

  /** Immediate children of `listPrefix`, from a delimited listing or derived from full keys. */
  private async listPages(listPrefix: string, delimiter: '/' | undefined): Promise<Set<string>> {
    const names = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: listPrefix,
          ...(delimiter === undefined ? {} : { Delimiter: delimiter }),
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const common of page.CommonPrefixes ?? []) {
        const name = common.Prefix?.slice(listPrefix.length).replace(/\/$/, '');
        if (name) names.add(name);
      }
      for (const object of page.Contents ?? []) {
        const name = object.Key?.slice(listPrefix.length).split('/')[0];
        if (name) names.add(name);
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return names;
  }

  private async putInParts(key: string, body: Uint8Array, options: PutOptions): Promise<{ etag: string }> {
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

function trimSlashes(text: string): string {
  return text.replace(/^\/+|\/+$/g, '');
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string | undefined {
  return (err as { name?: string } | undefined)?.name;
}
