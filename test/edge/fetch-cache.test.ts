import { type FetchLike, fetchWithCache, type ResponseStore } from '../../edge/fetch-cache';
import { ServiceUnavailableError } from '../../shared/errors';

/** An in-memory store with the Cache API's two calls (the browser uses the real Cache API). */
function memoryStore(): ResponseStore & { size(): number } {
  const kept = new Map<string, { body: Uint8Array; etag: string | null }>();
  return {
    match: async (url) => {
      const entry = kept.get(url);
      if (entry === undefined) return undefined;
      return new Response(entry.body.slice(), { headers: entry.etag === null ? {} : { etag: entry.etag } });
    },
    put: async (url, response) => {
      kept.set(url, {
        body: new Uint8Array(await response.arrayBuffer()),
        etag: response.headers.get('etag'),
      });
    },
    size: () => kept.size,
  };
}

/** A server holding one body with a content ETag; `down` makes every request fail like no network. */
function origin(body: string) {
  const state = { body, etag: '"v1"', down: false, seen: [] as (string | undefined)[] };
  const fetch: FetchLike = async (_url, init) => {
    if (state.down) throw new TypeError('fetch failed');
    const tag = init?.headers?.['if-none-match'];
    state.seen.push(tag);
    if (tag === state.etag) return new Response(null, { status: 304, headers: { etag: state.etag } });
    return new Response(state.body, { headers: { etag: state.etag } });
  };
  return { state, fetch };
}

const URL_ = 'https://static.example.test/models/iris/1/model.onnx';
const text = (fetched: Awaited<ReturnType<typeof fetchWithCache>>) =>
  fetched.status === 'ok' ? new TextDecoder().decode(fetched.bytes) : fetched.status;

describe('fetchWithCache (the edge offline copy)', () => {
  it('keeps a copy only when told it verified, then revalidates it by ETag and serves it offline', async () => {
    const store = memoryStore();
    const { state, fetch } = origin('bytes-1');

    const first = await fetchWithCache(URL_, fetch, store);
    expect(first).toMatchObject({ status: 'ok', source: 'network' });
    expect(store.size()).toBe(0); // not verified yet: nothing kept
    if (first.status === 'ok') await first.keep();
    expect(store.size()).toBe(1);

    const second = await fetchWithCache(URL_, fetch, store);
    expect(state.seen.at(-1)).toBe('"v1"');
    expect(second).toMatchObject({ status: 'ok', source: 'revalidated' });
    expect(text(second)).toBe('bytes-1');

    state.body = 'bytes-2';
    state.etag = '"v2"';
    const changed = await fetchWithCache(URL_, fetch, store);
    expect(changed).toMatchObject({ source: 'network' });
    expect(text(changed)).toBe('bytes-2');

    state.down = true;
    const offline = await fetchWithCache(URL_, fetch, store);
    // The new bytes were never confirmed (keep not called), so the kept copy is still version 1.
    expect(offline).toMatchObject({ status: 'ok', source: 'offline' });
    expect(text(offline)).toBe('bytes-1');
  });

  it('fails with 503 when offline with nothing kept, and reports a 404 as not found', async () => {
    const { state, fetch } = origin('x');
    state.down = true;
    await expect(fetchWithCache(URL_, fetch, memoryStore())).rejects.toThrow(ServiceUnavailableError);
    const missing = await fetchWithCache(URL_, async () => new Response(null, { status: 404 }), undefined);
    expect(missing).toEqual({ status: 'not-found' });
    await expect(
      fetchWithCache(URL_, async () => new Response(null, { status: 500 }), undefined),
    ).rejects.toThrow(/answered HTTP 500/);
  });
});
