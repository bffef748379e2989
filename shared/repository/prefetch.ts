import type { GetOptions, GetResult, ModelStore, PutOptions } from '../store/types';
import { artifactKey, deploymentKey, manifestKey } from './layout';

/**
 * The cold start's store reads, started before the heavy modules load. Lambda gives a function
 * ≈ 100–150 ms of module loading (onnxruntime, zod, Powertools, middy) before it can preload; the
 * preload then makes three round trips in a row (list the models, read each deployment, read its
 * manifests and artifacts). This store wrapper makes the same reads at once, in the same order,
 * while the modules load, and hands each answer to the first plain read of that key.
 *
 * Nothing here is trusted: the bytes go through the same parsing, schema and sha256 checks as a
 * read made later would, and a prefetch that failed is simply made again. The deployment JSON is
 * only looked at to find which versions to fetch; a wrong guess costs a wasted read, no more.
 *
 * Memory: the preload loads a model's versions one after the other, so it holds one artifact per
 * model at a time. The prefetch keeps to that: every version's manifest, but only the first
 * version's artifact (the one the preload loads first); a canary's or shadow's artifact is read
 * when the preload gets to it.
 */
export class PrefetchingStore implements ModelStore {
  readonly url: string;
  private readonly pending = new Map<string, Promise<GetResult>>();
  private listing: Promise<string[]> | undefined;
  /** Settles when every read the prefetch decided to make has been issued and answered. */
  readonly done: Promise<void>;

  constructor(
    private readonly store: ModelStore,
    stage: string,
  ) {
    this.url = store.url;
    const listing = store.list('');
    this.listing = listing;
    this.done = this.fetchStage(listing, stage).catch(() => undefined);
  }

  get(key: string, options: GetOptions = {}): Promise<GetResult> {
    const prefetched = options.ifNoneMatch === undefined ? this.take(key) : undefined;
    if (prefetched === undefined) return this.store.get(key, options);
    return prefetched.catch(() => this.store.get(key, options));
  }

  list(prefix: string): Promise<string[]> {
    const listing = prefix === '' ? this.listing : undefined;
    if (listing === undefined) return this.store.list(prefix);
    this.listing = undefined;
    return listing.catch(() => this.store.list(prefix));
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<{ etag: string }> {
    this.pending.delete(key);
    return this.store.put(key, body, options);
  }

  /** Drops answers nobody asked for (say, artifacts already in the disk cache): they hold memory. */
  release(): void {
    this.pending.clear();
    this.listing = undefined;
  }

  /** Keys fetched ahead and not yet handed out. */
  get waiting(): string[] {
    return [...this.pending.keys()];
  }

  private take(key: string): Promise<GetResult> | undefined {
    const prefetched = this.pending.get(key);
    this.pending.delete(key);
    return prefetched;
  }

  private fetch(key: string): Promise<GetResult> {
    const read = this.store.get(key);
    // Handled by whoever takes it; until then a failure must not count as unhandled.
    read.catch(() => undefined);
    this.pending.set(key, read);
    return read;
  }

  private async fetchStage(listing: Promise<string[]>, stage: string): Promise<void> {
    const models = await listing;
    await Promise.all(
      models.map(async (model) => {
        const deployment = await this.fetch(deploymentKey(model, stage));
        if (deployment.status !== 'ok') return;
        const versions = versionsNamedIn(deployment.body);
        const reads = versions.map((version) => this.fetch(manifestKey(model, version)));
        if (versions[0] !== undefined) reads.push(this.fetch(artifactKey(model, versions[0])));
        await Promise.allSettled(reads);
      }),
    );
  }
}

/**
 * The versions a deployment document names, in the order the preload loads them (variants, then
 * the shadow), read loosely: a hint only.
 */
export function versionsNamedIn(body: Uint8Array): number[] {
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return [];
  }
  const { variants, shadow } = (document ?? {}) as { variants?: unknown; shadow?: unknown };
  const candidates = [...(Array.isArray(variants) ? variants : []), shadow];
  const versions = new Set<number>();
  for (const candidate of candidates) {
    const version = (candidate as { version?: unknown } | null | undefined)?.version;
    if (Number.isSafeInteger(version) && (version as number) > 0) versions.add(version as number);
  }
  return [...versions];
}
