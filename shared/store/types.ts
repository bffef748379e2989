import { ServiceUnavailableError } from '../errors';
import type { S3Credentials } from './s3-reader';

/**
 * The one interface every object-store driver implements. Keys are '/'-separated and relative to
 * the repository root; drivers map them onto their own prefix. Writes are whole-object and may carry
 * a precondition so that mutable objects (deployment configs) change only by compare-and-swap.
 */
export interface ModelStore {
  /** Human-readable location, e.g. `file:///srv/models` or `s3://bucket/prefix`. */
  readonly url: string;
  get(key: string, options?: GetOptions): Promise<GetResult>;
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<{ etag: string }>;
  /** Names of the immediate children ("directories" and objects) under `prefix/`. */
  list(prefix: string): Promise<string[]>;
}

export interface GetOptions {
  /** Return `not-modified` instead of the body when the object still has this ETag. */
  ifNoneMatch?: string;
}

export interface PutOptions {
  /** Write only if the current object has this ETag. */
  ifMatch?: string;
  /** `*`: write only if the object does not exist yet. */
  ifNoneMatch?: '*';
  contentType?: string;
  /**
   * Called as a large body is uploaded (in parts, where the driver supports it) with the bytes
   * sent so far and the total. Small writes may call it once at the end or not at all.
   */
  onProgress?: (sent: number, total: number) => void;
}

export type GetResult =
  | { status: 'ok'; body: Buffer; etag: string }
  | { status: 'not-modified'; etag: string }
  | { status: 'not-found' };

/** A conditional write whose condition did not hold; the caller re-reads and decides. */
export class PreconditionFailedError extends Error {
  override name = 'PreconditionFailedError';
  constructor(
    readonly key: string,
    message = `${key} was changed by another writer`,
  ) {
    super(message);
  }
}

/**
 * The store could not be reached or answered with an unexpected error. A 503 with Retry-After for
 * clients; the message they see is generic (no bucket names or endpoints), the specifics are in
 * `detail` and `cause` for logs and the CLI.
 */
export class StoreUnavailableError extends ServiceUnavailableError {
  readonly detail: string;

  constructor(location: string, cause: unknown) {
    super('the model repository is unreachable; try again shortly', { cause, retryAfterSeconds: 5 });
    this.detail = `${location}: ${cause instanceof Error ? cause.message : String(cause)}`;
  }
}

export function joinKey(...parts: string[]): string {
  return parts.filter((part) => part.length > 0).join('/');
}

/**
 * Per-driver connection settings that cannot live in the repository URL (endpoints, secrets).
 * Parsed from the environment once by `parseStoreSettings` in shared/config/.
 */
export interface StoreSettings {
  s3Endpoint?: string;
  s3ForcePathStyle?: boolean;
  s3Region?: string;
  azureConnectionString?: string;
  azureEndpoint?: string;
  gcsApiEndpoint?: string;
  gcsProjectId?: string;
  /** S3 keys from the environment, for the SDK-free reader (see `environmentCredentials`). */
  s3Credentials?: S3Credentials;
}

/** What an object store's failed write condition means for the caller, the same on every driver. */
export function conditionFailed(key: string, options: PutOptions): PreconditionFailedError {
  return new PreconditionFailedError(key, options.ifNoneMatch === '*' ? `${key} already exists` : undefined);
}

/** The `prefix/` that lists the immediate children of `key` under a driver's own prefix. */
export function childListPrefix(prefix: string, key: string): string {
  const base = joinKey(prefix, key);
  return base === '' ? '' : `${base}/`;
}
