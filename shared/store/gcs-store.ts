import { type Bucket, Storage } from '@google-cloud/storage';
import {
  childListPrefix,
  conditionFailed,
  DEFAULT_STORE_DEADLINES,
  type GetOptions,
  type GetResult,
  joinKey,
  type ModelStore,
  PreconditionFailedError,
  type PutOptions,
  type RangeResult,
  RetryBudget,
  readWithinDeadline,
  type StoreDeadlines,
  StoreUnavailableError,
} from './types';

export interface GcsStoreOptions {
  bucket: string;
  prefix: string;
  /** A different JSON API root, e.g. a private endpoint or a local test server. */
  apiEndpoint?: string;
  projectId?: string;
  /** Bodies at least this large use a resumable upload in chunks of this size (multiple of 256 KiB). */
  chunkSizeBytes?: number;
  /** Deadlines and retry budget of reads (shared/config.ts). */
  deadlines?: StoreDeadlines;
}

const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;

/**
 * Google Cloud Storage through its JSON API. Credentials: application default credentials (the
 * function's service account on Cloud Functions, GOOGLE_APPLICATION_CREDENTIALS, gcloud ADC). The
 * ETag this driver hands out is the object's generation, so conditional reads compare generations
 * and conditional writes are `ifGenerationMatch` (`0` = create only if absent).
 */
export class GcsModelStore implements ModelStore {
  readonly url: string;
  readonly bucket: Bucket;
  /** The same bucket for reads: no library retries (the budget decides) and a per-request timeout. */
  private readonly reads: Bucket;
  private readonly prefix: string;
  private readonly chunkSize: number;
  private readonly deadlines: StoreDeadlines;
  private readonly budget: RetryBudget;

  constructor(options: GcsStoreOptions) {
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    const quarter = 256 * 1024;
    this.chunkSize = Math.max(
      quarter,
      Math.ceil((options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE) / quarter) * quarter,
    );
    this.url = `gs://${options.bucket}${this.prefix === '' ? '' : `/${this.prefix}`}`;
    this.deadlines = options.deadlines ?? DEFAULT_STORE_DEADLINES;
    this.budget = new RetryBudget(this.deadlines.retryTokens);
    const common = {
      ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
      ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
    };
    const storage = new Storage({
      ...common,
      retryOptions: { maxRetries: 1, maxRetryDelay: 2, totalTimeout: 15 },
    });
    this.bucket = storage.bucket(options.bucket);
    const reads = new Storage({
      ...common,
      retryOptions: { autoRetry: false },
      timeout: this.deadlines.totalMs,
    });
    this.reads = reads.bucket(options.bucket);
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    try {
      return await readWithinDeadline(this.deadlines, this.budget, `GET ${key}`, () =>
        this.getOnce(key, options),
      );
    } catch (err) {
      if (statusOf(err) === 404) return { status: 'not-found' };
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  private async getOnce(key: string, options: GetOptions): Promise<GetResult> {
    const file = this.reads.file(this.keyOf(key));
    try {
      if (options.ifNoneMatch !== undefined) {
        // The JSON API has no If-None-Match on media: an unchanged generation is seen in the metadata,
        // and then the body is not fetched at all.
        const [metadata] = await file.getMetadata();
        if (String(metadata.generation ?? '') === options.ifNoneMatch) {
          return { status: 'not-modified', etag: options.ifNoneMatch };
        }
      }
      // One request: the body and the generation it belongs to (x-goog-generation) come together,
      // so a concurrent replacement cannot pair one object's body with another's ETag.
      let generation: string | undefined;
      const stream = file.createReadStream({ validation: false });
      stream.on('response', (response: { headers?: Record<string, string | string[] | undefined> }) => {
        const header = response.headers?.['x-goog-generation'];
        generation = Array.isArray(header) ? header[0] : header;
      });
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      if (generation === undefined || generation === '') {
        throw new Error('the media response carried no x-goog-generation header');
      }
      return { status: 'ok', body: Buffer.concat(chunks), etag: generation };
    } catch (err) {
      if (statusOf(err) === 404) return { status: 'not-found' };
      throw err;
    }
  }

  async getRange(key: string, start: number, end: number): Promise<RangeResult | undefined> {
    const file = this.reads.file(this.keyOf(key));
    try {
      return await readWithinDeadline(this.deadlines, this.budget, `GET ${key}`, async () => {
        try {
          const [metadata] = await file.getMetadata();
          const size = Number(metadata.size ?? 0);
          const last = Math.min(end, size) - 1;
          if (last < start) return { body: Buffer.alloc(0), size };
          const chunks: Buffer[] = [];
          for await (const chunk of file.createReadStream({ start, end: last, validation: false })) {
            chunks.push(chunk as Buffer);
          }
          return { body: Buffer.concat(chunks), size };
        } catch (err) {
          if (statusOf(err) === 404) return undefined;
          throw err;
        }
      });
    } catch (err) {
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const file = this.bucket.file(this.keyOf(key));
    const ifGenerationMatch =
      options.ifNoneMatch === '*' ? 0 : options.ifMatch === undefined ? undefined : Number(options.ifMatch);
    if (ifGenerationMatch !== undefined && !Number.isSafeInteger(ifGenerationMatch)) {
      // An ETag from another driver can never match a generation.
      throw new PreconditionFailedError(key);
    }
    const resumable = body.byteLength >= this.chunkSize;
    try {
      await file.save(Buffer.from(body.buffer, body.byteOffset, body.byteLength), {
        resumable,
        ...(resumable ? { chunkSize: this.chunkSize } : {}),
        validation: false,
        ...(options.contentType === undefined ? {} : { contentType: options.contentType }),
        ...(ifGenerationMatch === undefined ? {} : { preconditionOpts: { ifGenerationMatch } }),
        onUploadProgress: (progress: { bytesWritten: number }) =>
          options.onProgress?.(progress.bytesWritten, body.byteLength),
      });
      options.onProgress?.(body.byteLength, body.byteLength);
      return { etag: String(file.metadata.generation ?? '') };
    } catch (err) {
      if (ifGenerationMatch !== undefined && statusOf(err) === 412) {
        throw conditionFailed(key, options);
      }
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const listPrefix = childListPrefix(this.prefix, prefix);
    const names = new Set<string>();
    let pageToken: string | undefined;
    try {
      do {
        const token = pageToken;
        const [files, , response] = await readWithinDeadline(
          this.deadlines,
          this.budget,
          `LIST ${listPrefix}`,
          () =>
            this.reads.getFiles({
              prefix: listPrefix,
              delimiter: '/',
              autoPaginate: false,
              ...(token === undefined ? {} : { pageToken: token }),
            }),
        );
        for (const file of files) {
          const name = file.name.slice(listPrefix.length);
          if (name !== '') names.add(name);
        }
        const page = (response ?? {}) as { prefixes?: string[]; nextPageToken?: string };
        for (const common of page.prefixes ?? []) {
          const name = common.slice(listPrefix.length).replace(/\/$/, '');
          if (name !== '') names.add(name);
        }
        pageToken = page.nextPageToken;
      } while (pageToken !== undefined && pageToken !== '');
    } catch (err) {
      throw new StoreUnavailableError(`${this.url}: ${prefix}`, err);
    }
    return [...names].sort();
  }

  private keyOf(key: string): string {
    return joinKey(this.prefix, key);
  }
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
