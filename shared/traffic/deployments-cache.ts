import { NotFoundError, ServiceUnavailableError } from '../errors';
import { DEPLOYMENT_SCHEMA, type DeploymentConfig } from '../repository/deployment';
import type { ModelRepository } from '../repository/repository';
import { describeError, type Logger } from '../telemetry/log';

interface Entry {
  config: DeploymentConfig;
  etag: string;
  checkedAt: number;
}

/** What the store last said to a revalidation: for readiness bodies, never a reason to be unready. */
export interface StoreHealth {
  state: 'reachable' | 'unreachable' | 'not-checked';
  /** When the store last answered a revalidation (epoch ms). */
  lastAnswerAt?: number;
}

/**
 * Each model's deployment config for this instance's stage. A config is trusted for `ttlMs`; after
 * that, requests keep using it while one background revalidation per model (one conditional read)
 * runs under `revalidateMs` (stale-while-revalidate). So a warm request never waits on the store:
 * only an instance's first request for a model does. When the store cannot be reached in time, or
 * holds a config that fails validation, the last good config keeps serving and the next TTL retries.
 */
export class DeploymentsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly refreshing = new Map<string, Promise<DeploymentConfig>>();
  private storeHealth: StoreHealth = { state: 'not-checked' };

  constructor(
    private readonly repository: ModelRepository,
    private readonly stage: string,
    private readonly ttlMs: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
    /**
     * Checks a changed config before it replaces the one serving (e.g. loads and verifies its
     * versions). If it throws, the last good config keeps serving and the change is retried after
     * the TTL. Not applied to the first config an instance sees: there is nothing to fall back to.
     */
    private readonly vet?: (model: string, config: DeploymentConfig) => Promise<void>,
    /**
     * Deadline of a revalidation's store reads. A model's first read has no config to fall back
     * on, so it waits for the driver's own deadlines instead (STORE_TIMEOUT_MS).
     */
    private readonly revalidateMs = 3000,
  ) {}

  async current(model: string): Promise<DeploymentConfig> {
    return this.cached(model) ?? this.revalidate(model, undefined);
  }

  /**
   * `current` without an await when this instance holds a config for `model` (fresh, or stale
   * while the revalidation started here runs); undefined when only the store can answer.
   */
  cached(model: string): DeploymentConfig | undefined {
    const entry = this.entries.get(model);
    if (entry === undefined) return undefined;
    if (this.now() - entry.checkedAt >= this.ttlMs) this.revalidate(model, entry);
    return entry.config;
  }

  private revalidate(model: string, entry: Entry | undefined): Promise<DeploymentConfig> {
    let pending = this.refreshing.get(model);
    if (pending === undefined) {
      pending = this.refresh(model, entry).finally(() => this.refreshing.delete(model));
      this.refreshing.set(model, pending);
      // Stale entry: answered now; a failure of the background refresh is already logged there.
      if (entry !== undefined) pending.catch(() => {});
    }
    return pending;
  }

  /** Resolves when the revalidations running now have finished (tests, orderly shutdown). */
  async refreshed(): Promise<void> {
    while (this.refreshing.size > 0) await Promise.allSettled([...this.refreshing.values()]);
  }

  /** The configs this instance holds now (stale or not), by model: what it serves without the store. */
  known(): Map<string, DeploymentConfig> {
    return new Map([...this.entries].map(([model, entry]) => [model, entry.config]));
  }

  /** The store as the last revalidation found it, and how long ago it last answered. */
  get store(): { state: StoreHealth['state']; answeredSecondsAgo?: number } {
    const { state, lastAnswerAt } = this.storeHealth;
    if (lastAnswerAt === undefined) return { state };
    return { state, answeredSecondsAgo: Math.max(0, Math.round((this.now() - lastAnswerAt) / 1000)) };
  }

  /** A revalidation's store call gives up at the deadline (the driver's own deadlines free its socket). */
  private withinDeadline<T>(call: Promise<T>, model: string, revalidating: boolean): Promise<T> {
    if (!revalidating) return call;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the deployment of "${model}" was not read within ${this.revalidateMs} ms`)),
        this.revalidateMs,
      );
    });
    return Promise.race([call, expired]).finally(() => clearTimeout(timer));
  }

  private async refresh(model: string, entry: Entry | undefined): Promise<DeploymentConfig> {
    let read: Awaited<ReturnType<ModelRepository['readDeployment']>>;
    try {
      read = await this.withinDeadline(
        this.repository.readDeployment(model, this.stage, entry?.etag),
        model,
        entry !== undefined,
      );
      this.storeHealth = { state: 'reachable', lastAnswerAt: this.now() };
    } catch (err) {
      this.storeHealth = { ...this.storeHealth, state: 'unreachable' };
      if (entry === undefined) {
        throw new ServiceUnavailableError(`the deployment of model "${model}" could not be read`, {
          cause: err,
          retryAfterSeconds: 5,
        });
      }
      this.log.warn('serving the last good deployment config', {
        model,
        stage: this.stage,
        ...describeError(err),
      });
      entry.checkedAt = this.now();
      return entry.config;
    }
    if (read.status === 'not-modified' && entry !== undefined) {
      entry.checkedAt = this.now();
      return entry.config;
    }
    if (read.status === 'ok') {
      if (entry !== undefined && this.vet !== undefined && read.etag !== entry.etag) {
        try {
          await this.vet(model, read.config);
        } catch (err) {
          this.log.error('refusing a new deployment config; the last good one keeps serving', {
            model,
            stage: this.stage,
            ...describeError(err),
          });
          entry.checkedAt = this.now();
          return entry.config;
        }
      }
      this.entries.set(model, { config: read.config, etag: read.etag, checkedAt: this.now() });
      return read.config;
    }
    this.entries.delete(model);
    const revalidating = entry !== undefined;
    const versions = await this.withinDeadline(
      this.repository.listVersions(model),
      model,
      revalidating,
    ).catch(() => []);
    const latest = versions.at(-1);
    if (latest === undefined) throw new NotFoundError(`model "${model}" not found`);
    const manifest = this.withinDeadline(
      this.repository.readManifestBytes(model, latest),
      model,
      revalidating,
    );
    if ((await manifest.catch(() => null)) === undefined) {
      // A Triton-style repository has no deployment configs: serve its latest version, as Triton does.
      const config = tritonLatest(model, this.stage, latest, this.now());
      this.entries.set(model, { config, etag: '', checkedAt: this.now() });
      return config;
    }
    // Outside `local` a predict client learns no more than for a model that does not exist: the
    // hint would name models that are published but not released.
    if (this.stage !== 'local') throw new NotFoundError(`model "${model}" not found`);
    throw new NotFoundError(
      `model "${model}" is not deployed on stage "${this.stage}"; promote a version (modelfleet promote ${model} <version> --stage ${this.stage})`,
    );
  }
}

function tritonLatest(model: string, stage: string, version: number, now: number): DeploymentConfig {
  return {
    schema: DEPLOYMENT_SCHEMA,
    model,
    stage,
    variants: [{ name: 'latest', version, weight: 100 }],
    history: [],
    updatedAt: new Date(now).toISOString(),
  };
}
