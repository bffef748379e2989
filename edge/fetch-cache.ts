import { ServiceUnavailableError } from '../shared/errors';

/**
 * Where verified documents and artifacts are kept between visits: the browser's Cache API, or
 * anything with the same two calls (an in-memory map in tests, a folder on a device).
 */
export interface ResponseStore {
  match(url: string): Promise<Response | undefined>;
  put(url: string, response: Response): Promise<void>;
}

export type FetchLike = (url: string, init?: { headers?: Record<string, string> }) => Promise<Response>;

export type Fetched =
  | { status: 'not-found' }
  | {
      status: 'ok';
      bytes: Uint8Array;
      /** network: new bytes; revalidated: the server answered 304 to our ETag; offline: no answer. */
      source: 'network' | 'revalidated' | 'offline';
      /** Keeps these bytes for next time; call it only once they passed verification. */
      keep(): Promise<void>;
    };

/**
 * GET with the kept copy's ETag as If-None-Match. A 304 or an unreachable server (offline) gives
 * the kept copy; a new 200 replaces it only when the caller, having verified it, calls `keep`.
 * The caller verifies whatever comes back, kept or not: a cache is not a trust anchor.
 */
export async function fetchWithCache(url: string, fetch: FetchLike, store?: ResponseStore): Promise<Fetched> {
  const kept = await store?.match(url).catch(() => undefined);
  const etag = kept?.headers.get('etag') ?? undefined;
  let response: Response;
  try {
    response = await fetch(url, etag === undefined ? {} : { headers: { 'if-none-match': etag } });
  } catch (err) {
    if (kept !== undefined) return fromKept(kept, 'offline');
    throw new ServiceUnavailableError(`${url} could not be fetched: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (response.status === 304 && kept !== undefined) return fromKept(kept, 'revalidated');
  if (response.status === 404) return { status: 'not-found' };
  if (!response.ok) throw new ServiceUnavailableError(`${url} answered HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const newTag = response.headers.get('etag');
  return {
    status: 'ok',
    bytes,
    source: 'network',
    keep: async () => {
      if (store === undefined) return;
      const headers: Record<string, string> = newTag === null ? {} : { etag: newTag };
      await store.put(url, new Response(bytes.slice(), { headers })).catch(() => {});
    },
  };
}

async function fromKept(kept: Response, source: 'revalidated' | 'offline'): Promise<Fetched> {
  const bytes = new Uint8Array(await kept.arrayBuffer());
  return { status: 'ok', bytes, source, keep: async () => {} };
}

/** The Cache API when this context has one (a secure browser context), else undefined. */
export async function browserCacheStore(name = 'modelfleet-edge'): Promise<ResponseStore | undefined> {
  const caches = (globalThis as { caches?: CacheStorageLike }).caches;
  if (caches === undefined) return undefined;
  try {
    const cache = await caches.open(name);
    return {
      match: async (url) => (await cache.match(url)) ?? undefined,
      put: (url, response) => cache.put(url, response),
    };
  } catch {
    // Opaque origins (file://, sandboxed frames) refuse the Cache API: run without one.
    return undefined;
  }
}

interface CacheStorageLike {
  open(name: string): Promise<{
    match(url: string): Promise<Response | undefined>;
    put(url: string, response: Response): Promise<void>;
  }>;
}
