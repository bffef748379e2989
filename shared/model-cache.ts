import { IntegrityError, NotFoundError, ServiceUnavailableError } from './errors';
import type { Manifest } from './manifest';
import { createSession, type OrtSession } from './onnx';
import { artifactMismatch, type ModelRepository } from './repository';
import type { TensorSpec } from './tensor';

export interface LoadedModel {
  readonly name: string;
  readonly version: number;
  readonly manifest: Manifest;
  readonly session: OrtSession;
  readonly inputs: ReadonlyMap<string, TensorSpec>;
  readonly outputs: ReadonlyMap<string, TensorSpec>;
  /** Wall time of download + verify + session creation, for the load metric. */
  readonly loadMs: number;
}

export interface CacheLookup {
  model: LoadedModel;
  /** true when this call found the model already loaded (or loading). */
  hit: boolean;
}

/**
 * Loaded sessions by model@version. Concurrent callers share one load promise; a load that fails
 * is evicted at once so the next request tries again; least-recently-used models are released
 * when more than `maxModels` are held.
 */
export class ModelCache {
  private readonly entries = new Map<string, Promise<LoadedModel>>();

  constructor(
    private readonly repository: ModelRepository,
    private readonly maxModels: number,
    /** Signature policy (shared/signing.ts); throws IntegrityError before the artifact is trusted. */
    private readonly verifyManifest: (manifest: Manifest) => void = () => {},
  ) {}

  async get(name: string, version: number): Promise<CacheLookup> {
    const key = `${name}@${version}`;
    const existing = this.entries.get(key);
    if (existing !== undefined) {
      // Re-insert to mark as most recently used (Map keeps insertion order).
      this.entries.delete(key);
      this.entries.set(key, existing);
      return { model: await existing, hit: true };
    }
    const loading = this.load(name, version);
    this.entries.set(key, loading);
    loading.catch(() => {
      if (this.entries.get(key) === loading) this.entries.delete(key);
    });
    this.evictBeyondLimit();
    return { model: await loading, hit: false };
  }

  /** Versions currently held (loaded or loading), least recently used first. */
  keys(): string[] {
    return [...this.entries.keys()];
  }

  private evictBeyondLimit(): void {
    while (this.entries.size > this.maxModels) {
      const oldest = this.entries.keys().next();
      if (oldest.done) return;
      const evicted = this.entries.get(oldest.value);
      this.entries.delete(oldest.value);
      // Release the native session once any in-flight run on it has had time to finish.
      evicted
        ?.then((model) => setTimeout(() => void model.session.release().catch(() => {}), 5_000).unref())
        .catch(() => {});
    }
  }

  private async load(name: string, version: number): Promise<LoadedModel> {
    const started = performance.now();
    let manifest: Manifest;
    let artifact: Buffer;
    try {
      manifest = await this.repository.readManifest(name, version);
      artifact = await this.repository.readArtifact(name, version);
    } catch (err) {
      if (err instanceof NotFoundError) throw err;
      throw new ServiceUnavailableError(
        `model "${name}" version ${version} could not be read from the repository`,
        {
          cause: err,
          retryAfterSeconds: 5,
        },
      );
    }
    this.verifyManifest(manifest);
    const mismatch = artifactMismatch(manifest, artifact);
    if (mismatch !== undefined) {
      throw new IntegrityError(
        `model "${name}" version ${version} failed its integrity check and will not be served`,
        {
          cause: new Error(mismatch),
        },
      );
    }
    let session: OrtSession;
    try {
      session = await createSession(artifact);
    } catch (err) {
      throw new ServiceUnavailableError(
        `model "${name}" version ${version} could not be loaded by onnxruntime`,
        {
          cause: err,
        },
      );
    }
    return describeModel(manifest, session, performance.now() - started);
  }
}

export function describeModel(manifest: Manifest, session: OrtSession, loadMs = 0): LoadedModel {
  return {
    name: manifest.name,
    version: manifest.version,
    manifest,
    session,
    inputs: new Map(manifest.signature.inputs.map((spec) => [spec.name, spec])),
    outputs: new Map(manifest.signature.outputs.map((spec) => [spec.name, spec])),
    loadMs,
  };
}
