import { NotFoundError, ServiceUnavailableError } from '../errors';
import { DEPLOYMENT_SCHEMA, type DeploymentConfig } from '../repository/deployment';
import type { ModelRepository } from '../repository/repository';
import { describeError, type Logger } from '../telemetry/log';

interface Entry {
  config: DeploymentConfig;
  etag: string;
  checkedAt: number;
}

/**
 * Each model's deployment config for this instance's stage. A config is trusted for `ttlMs`, then
 * revalidated with one conditional read (concurrent requests share it). When the store cannot be
 * reached, or holds a config that fails validation, the last good config keeps serving.
 */
export class DeploymentsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly refreshing = new Map<string, Promise<DeploymentConfig>>();

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
  ) {}

  async current(model: string): Promise<DeploymentConfig> {
    const entry = this.entries.get(model);
    if (entry !== undefined && this.now() - entry.checkedAt < this.ttlMs) return entry.config;
    let pending = this.refreshing.get(model);
    if (pending === undefined) {
      pending = this.refresh(model, entry).finally(() => this.refreshing.delete(model));
      this.refreshing.set(model, pending);
    }
    return pending;
  }

  private async refresh(model: string, entry: Entry | undefined): Promise<DeploymentConfig> {
    let read: Awaited<ReturnType<ModelRepository['readDeployment']>>;
    try {
      read = await this.repository.readDeployment(model, this.stage, entry?.etag);
    } catch (err) {
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
    const versions = await this.repository.listVersions(model).catch(() => []);
    const latest = versions.at(-1);
    if (latest === undefined) throw new NotFoundError(`model "${model}" not found`);
    if ((await this.repository.readManifestBytes(model, latest).catch(() => null)) === undefined) {
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
