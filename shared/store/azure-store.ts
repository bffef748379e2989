import { DefaultAzureCredential } from '@azure/identity';
import {
  BlobServiceClient,
  type ContainerClient,
  RestError,
  type StoragePipelineOptions,
} from '@azure/storage-blob';
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

export interface AzureStoreOptions {
  account: string;
  container: string;
  prefix: string;
  /** A storage connection string (account key or SAS); without one, DefaultAzureCredential. */
  connectionString?: string;
  /** Blob service URL override, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1. */
  endpoint?: string;
  /** Bodies at least this large are uploaded as staged blocks. */
  blockSizeBytes?: number;
  /** Deadlines and retry budget of reads (shared/config.ts). */
  deadlines?: StoreDeadlines;
}

const DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024;

/**
 * Azure Blob Storage. With a connection string the account key/SAS in it signs requests; otherwise
 * `DefaultAzureCredential` (managed identity on Functions, then environment, workload identity,
 * Azure CLI…) with the "Storage Blob Data Contributor" role on the container.
 * Conditional reads and writes use Azure's ETag conditions.
 */
export class AzureBlobModelStore implements ModelStore {
  readonly url: string;
  readonly container: ContainerClient;
  /** The same container for reads: no SDK retries (the budget decides) and a per-try timeout. */
  private readonly reads: ContainerClient;
  private readonly prefix: string;
  private readonly blockSize: number;
  private readonly deadlines: StoreDeadlines;
  private readonly budget: RetryBudget;

  constructor(options: AzureStoreOptions) {
    this.prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    this.blockSize = Math.max(1024 * 1024, options.blockSizeBytes ?? DEFAULT_BLOCK_SIZE);
    this.url = `az://${options.account}/${options.container}${this.prefix === '' ? '' : `/${this.prefix}`}`;
    this.deadlines = options.deadlines ?? DEFAULT_STORE_DEADLINES;
    this.budget = new RetryBudget(this.deadlines.retryTokens);
    const credential = options.connectionString === undefined ? new DefaultAzureCredential() : undefined;
    const service = (retryOptions: StoragePipelineOptions['retryOptions']) =>
      options.connectionString !== undefined
        ? BlobServiceClient.fromConnectionString(options.connectionString, { retryOptions })
        : new BlobServiceClient(
            options.endpoint ?? `https://${options.account}.blob.core.windows.net`,
            credential,
            { retryOptions },
          );
    this.container = service({
      maxTries: 2,
      retryDelayInMs: 200,
      maxRetryDelayInMs: 1000,
    }).getContainerClient(options.container);
    this.reads = service({ maxTries: 1, tryTimeoutInMs: this.deadlines.totalMs }).getContainerClient(
      options.container,
    );
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const blob = this.reads.getBlobClient(this.keyOf(key));
    try {
      return await readWithinDeadline(this.deadlines, this.budget, `GET ${key}`, async (abortSignal) => {
        try {
          const response = await blob.download(0, undefined, {
            abortSignal,
            ...(options.ifNoneMatch === undefined
              ? {}
              : { conditions: { ifNoneMatch: options.ifNoneMatch } }),
          });
          const body = await readAll(response.readableStreamBody);
          return { status: 'ok', body, etag: response.etag ?? '' } as const;
        } catch (err) {
          const status = statusOf(err);
          if (status === 304) return { status: 'not-modified', etag: options.ifNoneMatch ?? '' } as const;
          if (status === 404) return { status: 'not-found' } as const;
          throw err;
        }
      });
    } catch (err) {
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<RangeResult | undefined> {
    const blob = this.reads.getBlobClient(this.keyOf(key));
    try {
      return await readWithinDeadline(this.deadlines, this.budget, `GET ${key}`, async (abortSignal) => {
        try {
          const response = await blob.download(start, end - start, { abortSignal });
          const body = await readAll(response.readableStreamBody);
          const size = sizeFromContentRange(response.contentRange) ?? body.byteLength;
          return { body, size };
        } catch (err) {
          if (statusOf(err) === 404) return undefined;
          if (statusOf(err) !== 416) throw err;
          const properties = await blob.getProperties({ abortSignal });
          return { body: Buffer.alloc(0), size: properties.contentLength ?? 0 };
        }
      });
    } catch (err) {
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const conditions = {
      ...(options.ifMatch === undefined ? {} : { ifMatch: options.ifMatch }),
      ...(options.ifNoneMatch === undefined ? {} : { ifNoneMatch: options.ifNoneMatch }),
    };
    const common = {
      conditions,
      ...(options.contentType === undefined
        ? {}
        : { blobHTTPHeaders: { blobContentType: options.contentType } }),
    };
    const blob = this.container.getBlockBlobClient(this.keyOf(key));
    try {
      if (body.byteLength >= this.blockSize) {
        // uploadData stages blocks in parallel and commits them with the conditions.
        const result = await blob.uploadData(body, {
          ...common,
          blockSize: this.blockSize,
          maxSingleShotSize: this.blockSize,
          concurrency: 4,
          onProgress: (progress) => options.onProgress?.(progress.loadedBytes, body.byteLength),
        });
        return { etag: result.etag ?? '' };
      }
      const result = await blob.upload(body, body.byteLength, common);
      options.onProgress?.(body.byteLength, body.byteLength);
      return { etag: result.etag ?? '' };
    } catch (err) {
      const status = statusOf(err);
      // 409 BlobAlreadyExists answers If-None-Match: * ; 412 a stale If-Match.
      if (status === 412 || (status === 409 && options.ifNoneMatch === '*')) {
        throw conditionFailed(key, options);
      }
      throw new StoreUnavailableError(`${this.url}: ${key}`, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const listPrefix = childListPrefix(this.prefix, prefix);
    const names = new Set<string>();
    try {
      await readWithinDeadline(this.deadlines, this.budget, `LIST ${listPrefix}`, async (abortSignal) => {
        names.clear();
        try {
          for await (const item of this.reads.listBlobsByHierarchy('/', {
            prefix: listPrefix,
            abortSignal,
          })) {
            const name = item.name.slice(listPrefix.length).replace(/\/$/, '');
            if (name !== '') names.add(name);
          }
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
          names.clear();
        }
      });
    } catch (err) {
      throw new StoreUnavailableError(`${this.url}: ${prefix}`, err);
    }
    return [...names].sort();
  }

  private keyOf(key: string): string {
    return joinKey(this.prefix, key);
  }
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  if (stream === undefined) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function statusOf(err: unknown): number | undefined {
  return err instanceof RestError ? err.statusCode : (err as { statusCode?: number } | undefined)?.statusCode;
}
