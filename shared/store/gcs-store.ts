import { type Bucket, Storage } from '@google-cloud/storage';
import {
  childListPrefix,
  conditionFailed,
  type GetOptions,
  type GetResult,
  joinKey,
  type ModelStore,
  PreconditionFailedError,
  type PutOptions,
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
  private readonly prefix: string;
  private readonly chunkSize: number;

  constructor(options: GcsStoreOptions) {
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    const quarter = 256 * 1024;
    this.chunkSize = Math.max(
      quarter,
      Math.ceil((options.chunkSizeBytes ?? DEFAULT_CHUNK_SIZE) / quarter) * quarter,
    );
    this.url = `gs://${options.bucket}${this.prefix === '' ? '' : `/${this.prefix}`}`;
    const storage = new Storage({
      ...(options.apiEndpoint === undefined ? {} : { apiEndpoint: options.apiEndpoint }),
      ...(options.projectId === undefined ? {} : { projectId: options.projectId }),
      retryOptions: { maxRetries: 1, maxRetryDelay: 2, totalTimeout: 15 },
    });
    this.bucket = storage.bucket(options.bucket);
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const file = this.bucket.file(this.keyOf(key));
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
        const [files, , response] = await this.bucket.getFiles({
          prefix: listPrefix,
          delimiter: '/',
          autoPaginate: false,
          ...(pageToken === undefined ? {} : { pageToken }),
        });
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
