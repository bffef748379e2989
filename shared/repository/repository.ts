import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError } from '../errors';
import { type ModelStore, PreconditionFailedError } from '../store';
import {
  type DeploymentConfig,
  DeploymentConfigError,
  deployedVersions,
  parseDeployment,
} from './deployment';
import { artifactProblem } from './integrity';
import { artifactKey, deploymentKey, manifestKey } from './layout';
import { ARTIFACT_FILE, type Manifest, ManifestError, parseManifest } from './manifest';
import { isModelName, isVersion } from './names';

export { DEPLOYMENTS_DIR, deploymentKey } from './layout';

const CAS_ATTEMPTS = 50;

export interface VersionPackage {
  manifest: Manifest;
  artifact: Uint8Array;
}

export type DeploymentRead =
  | { status: 'ok'; config: DeploymentConfig; etag: string }
  | { status: 'not-modified'; etag: string }
  | { status: 'not-found' };

/**
 * The model repository layout on any store:
 *   <model>/<version>/model.onnx, <model>/<version>/manifest.json   (immutable)
 *   <model>/deployments/<stage>.json                                  (compare-and-swap only)
 */
export class ModelRepository {
  constructor(readonly store: ModelStore) {}

  async listModels(): Promise<string[]> {
    const names = await this.store.list('');
    return names.filter(isModelName);
  }

  async listVersions(model: string): Promise<number[]> {
    const names = await this.store.list(model);
    return names
      .filter(isVersion)
      .map(Number)
      .sort((a, b) => a - b);
  }

  async readManifest(model: string, version: number): Promise<Manifest> {
    const bytes = await this.readManifestBytes(model, version);
    if (bytes === undefined) throw new NotFoundError(`model "${model}" has no version ${version}`);
    return this.parseManifestBytes(model, version, bytes);
  }

  /** The raw manifest, or undefined when the version has none (absent, or a Triton-style version). */
  async readManifestBytes(model: string, version: number): Promise<Buffer | undefined> {
    const result = await this.store.get(manifestKey(model, version));
    return result.status === 'ok' ? result.body : undefined;
  }

  parseManifestBytes(model: string, version: number, bytes: Buffer): Manifest {
    const key = manifestKey(model, version);
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new ManifestError(`${key} is not valid JSON: ${(err as Error).message}`);
    }
    const manifest = parseManifest(value, key);
    if (manifest.name !== model || manifest.version !== version) {
      throw new ManifestError(
        `${key}: names ${manifest.name} version ${manifest.version}, not ${model} ${version}`,
      );
    }
    return manifest;
  }

  async readArtifact(model: string, version: number): Promise<Buffer> {
    const key = artifactKey(model, version);
    const result = await this.store.get(key);
    if (result.status !== 'ok')
      throw new NotFoundError(`model "${model}" version ${version} has no ${ARTIFACT_FILE}`);
    return result.body;
  }

  /** Re-hashes a version's artifact; returns what is wrong, or undefined when intact. */
  async checkIntegrity(model: string, version: number): Promise<string | undefined> {
    const manifest = await this.readManifest(model, version);
    const artifact = await this.readArtifact(model, version).catch(() => undefined);
    if (artifact === undefined) return `${model} version ${version}: ${ARTIFACT_FILE} is missing`;
    return artifactMismatch(manifest, artifact);
  }

  /**
   * Publishes a version. The manifest is written first with create-if-absent, which claims the
   * version number: two publishers racing for the same number cannot both win, and the loser
   * moves on to the next number (when no version was requested) or is refused.
   */
  async publish(
    pkg: VersionPackage,
    options: { version?: number; onProgress?: (sent: number, total: number) => void } = {},
  ): Promise<number> {
    const model = pkg.manifest.name;
    const mismatch = artifactMismatch(pkg.manifest, pkg.artifact);
    if (mismatch !== undefined) throw new Error(`refusing to publish: ${mismatch}`);
    let version = options.version ?? ((await this.listVersions(model)).at(-1) ?? 0) + 1;
    for (let attempt = 0; ; attempt++) {
      const manifest: Manifest = { ...pkg.manifest, version };
      const key = manifestKey(model, version);
      try {
        await this.store.put(key, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), {
          ifNoneMatch: '*',
          contentType: 'application/json',
        });
        break;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
        if (options.version !== undefined) {
          throw new ConflictError(
            `model "${model}" version ${version} already exists; versions are immutable`,
          );
        }
        if (attempt >= CAS_ATTEMPTS) throw new ConflictError(`could not allocate a version for "${model}"`);
        version += 1;
      }
    }
    await this.store.put(artifactKey(model, version), pkg.artifact, {
      contentType: 'application/octet-stream',
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    });
    return version;
  }

  async readDeployment(model: string, stage: string, ifNoneMatch?: string): Promise<DeploymentRead> {
    const key = deploymentKey(model, stage);
    const result = await this.store.get(key, ifNoneMatch === undefined ? {} : { ifNoneMatch });
    if (result.status !== 'ok') return result;
    const config = parseDeployment(parseJson(result.body, key), key);
    return { status: 'ok', config, etag: result.etag };
  }

  /**
   * Read-modify-write of a stage's deployment by compare-and-swap. `change` sees the current
   * config (fresh on every retry) and returns the next one, which is validated, and whose versions
   * must exist and be intact, before it is written. A lost race is retried on fresh state.
   */
  async updateDeployment(
    model: string,
    stage: string,
    change: (current: DeploymentConfig | undefined) => DeploymentConfig,
  ): Promise<DeploymentConfig> {
    const key = deploymentKey(model, stage);
    // A retry after a lost race re-reads the config but need not re-download checked artifacts.
    const intact = new Set<number>();
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const current = await this.readDeployment(model, stage);
      const base = current.status === 'ok' ? current.config : undefined;
      const next = parseDeployment(change(base), `new ${key}`);
      await this.assertVersionsIntact(model, next, intact);
      try {
        await this.store.put(key, Buffer.from(`${JSON.stringify(next, null, 2)}\n`), {
          ...(current.status === 'ok' ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
          contentType: 'application/json',
        });
        return next;
      } catch (err) {
        if (!(err instanceof PreconditionFailedError)) throw err;
        // Back off a little so that many writers do not retry in lock-step.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * (attempt + 1)));
      }
    }
    throw new ConflictError(`${key} kept changing under ${CAS_ATTEMPTS} attempts; try again`);
  }

  /** `intact` remembers versions already checked in this update: versions are immutable. */
  private async assertVersionsIntact(
    model: string,
    config: DeploymentConfig,
    intact: Set<number>,
  ): Promise<void> {
    for (const version of deployedVersions(config)) {
      if (intact.has(version)) continue;
      const problem = await this.checkIntegrity(model, version);
      if (problem !== undefined) throw new DeploymentConfigError(`cannot deploy: ${problem}`);
      intact.add(version);
    }
  }
}

/** An object in the store that cannot be read as what its key says it is. */
export class InvalidObjectError extends Error {
  override name = 'InvalidObjectError';
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function artifactMismatch(manifest: Manifest, artifact: Uint8Array): string | undefined {
  return artifactProblem(manifest, artifact.byteLength, () => sha256Hex(artifact));
}

function parseJson(body: Buffer, key: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidObjectError(`${key} is not valid JSON: ${(err as Error).message}`);
  }
}
