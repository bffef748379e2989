import { ServiceUnavailableError } from '../errors';
import type { AwsCredentials as S3Credentials } from './sigv4';

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
  /**
   * Bytes [start, end) of an object and the object's whole size, or undefined when it does not
   * exist; a range past the end gives the bytes there are. Batch jobs read large inputs this way,
   * a window at a time, instead of holding the whole object. Every built-in driver has it.
   */
  getRange?(key: string, start: number, end: number): Promise<RangeResult | undefined>;
}

export interface RangeResult {
  body: Buffer;
  /** The whole object's size in bytes. */
  size: number;
}

/** The size in `Content-Range: bytes a-b/size` (S3, Azure); undefined when absent or unknown. */
export function sizeFromContentRange(header: string | undefined): number | undefined {
  const size = /\/(\d+)$/.exec(header ?? '')?.[1];
  return size === undefined ? undefined : Number(size);
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
  /** Deadlines and retry budget of store calls; each driver's defaults when absent. */
  deadlines?: StoreDeadlines;
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

/**
 * How long a store call may take, so that a store that accepts connections but stops answering
 * fails a call in seconds rather than holding it (and, through it, requests) for a minute. The
 * defaults fit inside API Gateway's 29 s and the functions' timeouts with room for one retry.
 */
export interface StoreDeadlines {
  /** TCP (and TLS) connection set-up. */
  connectMs: number;
  /** From the request sent to the response's status line. */
  firstByteMs: number;
  /** The whole call, body included, retries included. */
  totalMs: number;
  /** Retries this driver may make, refilled by a tenth of a token per success (a retry budget). */
  retryTokens: number;
}

export const DEFAULT_STORE_DEADLINES: StoreDeadlines = {
  connectMs: 3_000,
  firstByteMs: 5_000,
  totalMs: 20_000,
  retryTokens: 10,
};

/**
 * Retries as a budget, not a number per call: while the store fails every call, retries stop once
 * the tokens are spent instead of doubling the load (and the wait) of every request. Each success
 * puts back a tenth of a token, so retries stay at most ≈ 10 % of calls in steady state.
 */
export class RetryBudget {
  private tokens: number;

  constructor(private readonly capacity: number) {
    this.tokens = capacity;
  }

  /** Takes a token for one retry; false when the budget is spent. */
  take(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  succeeded(): void {
    this.tokens = Math.min(this.capacity, this.tokens + 0.1);
  }
}

/**
 * One read under the driver's deadlines: `attempt` gets a signal that aborts at the total deadline
 * (and the call rejects then, whether or not the SDK honours the signal), and a failed attempt is
 * retried once only while the retry budget has a token and time remains.
 */
export async function readWithinDeadline<T>(
  deadlines: StoreDeadlines,
  budget: RetryBudget,
  what: string,
  attempt: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const expired = new Promise<never>((_, reject) => {
    const timer = setTimeout(() => {
      const err = new Error(`${what}: no answer within ${deadlines.totalMs} ms`);
      controller.abort(err);
      reject(err);
    }, deadlines.totalMs);
    timer.unref?.();
    controller.signal.addEventListener('abort', () => clearTimeout(timer), { once: true });
  });
  expired.catch(() => {});
  const once = () => Promise.race([attempt(controller.signal), expired]);
  try {
    const result = await once().catch(async (err: unknown) => {
      if (controller.signal.aborted || !budget.take()) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return once();
    });
    budget.succeeded();
    return result;
  } finally {
    if (!controller.signal.aborted) controller.abort(new Error(`${what}: finished`));
  }
}
