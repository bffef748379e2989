import { TooManyRequestsError } from '../errors';
import type { BucketSettings } from './settings';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Token buckets by identity (key name, token subject or client address). This is the inner
 * limiter: per function instance, in memory, behind the platform's own (API Gateway usage plans,
 * Azure API Management, GCP API Gateway), which see all instances. The map is bounded: beyond
 * `maxTracked` identities the least recently seen bucket is dropped (it would be full by then
 * for any client that is not hammering).
 */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** The id last inserted into `buckets`, i.e. the last in its iteration order. */
  private newest: string | undefined;

  constructor(
    private readonly settings: BucketSettings,
    private readonly now: () => number = Date.now,
    private readonly maxTracked = 10_000,
  ) {}

  get enabled(): boolean {
    return this.settings.ratePerSecond > 0;
  }

  /** Takes one token for `id` or throws a 429 whose Retry-After says when one will be there. */
  take(id: string, what: string): void {
    if (!this.enabled) return;
    const now = this.now();
    const { ratePerSecond, burst } = this.settings;
    let bucket = this.buckets.get(id);
    if (bucket === undefined) {
      bucket = { tokens: burst, updatedMs: now };
      this.buckets.set(id, bucket);
    } else if (id !== this.newest) {
      // Re-insert to mark as most recently seen; a caller that already is needs no Map writes.
      this.buckets.delete(id);
      this.buckets.set(id, bucket);
    }
    this.newest = id;
    const elapsed = Math.max(0, now - bucket.updatedMs) / 1000;
    bucket.tokens = Math.min(burst, bucket.tokens + elapsed * ratePerSecond);
    bucket.updatedMs = now;
    if (bucket.tokens < 1) {
      const wait = (1 - bucket.tokens) / ratePerSecond;
      throw new TooManyRequestsError(
        `rate limit of ${ratePerSecond} requests per second (burst ${burst}) exceeded for ${what}; retry in ${Math.ceil(wait)} s`,
        wait,
      );
    }
    bucket.tokens -= 1;
    while (this.buckets.size > this.maxTracked) {
      const oldest = this.buckets.keys().next();
      if (oldest.done) break;
      this.buckets.delete(oldest.value);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
