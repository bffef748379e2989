import type { GetOptions, GetResult, ModelStore, PutOptions } from '../store/types';
import { DEPLOYMENT_SCHEMA } from './deployment';
import { ARTIFACT_FILE, DEPLOYMENTS_DIR, MANIFEST_FILE } from './layout';

/**
 * What a managed endpoint mounts for the container (SageMaker's /opt/ml/model, Vertex's
 * AIP_STORAGE_URI, Azure ML's AZUREML_MODEL_DIR) is whatever the user packed: either one package
 * (`modelfleet package`'s folder: model.onnx + manifest.json, or a bare model.onnx), at the root
 * or in its only sub-folder, or a small model repository in the usual layout.
 */
export type MountLayout =
  | { kind: 'repository' }
  | { kind: 'package'; folder: string; model: string; version: number; hasManifest: boolean };

/**
 * Looks at the mount once at start. A package is served as `<model>/<version>` of a read-only
 * repository whose every stage deploys it; a repository is served as it is. `fallbackName` names
 * a package without a manifest (a bare model.onnx).
 */
export async function openModelMount(store: ModelStore, fallbackName: string): Promise<ModelStore> {
  const layout = await detectMountLayout(store, fallbackName);
  return layout.kind === 'repository' ? store : new PackageMount(store, layout);
}

export async function detectMountLayout(store: ModelStore, fallbackName: string): Promise<MountLayout> {
  const atRoot = await packageAt(store, '', fallbackName);
  if (atRoot !== undefined) return atRoot;
  const children = (await store.list('')).filter((name) => !name.includes('.'));
  if (children.length !== 1) return { kind: 'repository' };
  const [only] = children as [string];
  // A single folder holding numbered versions is a one-model repository, not a package.
  return (await packageAt(store, only, fallbackName)) ?? { kind: 'repository' };
}

async function packageAt(
  store: ModelStore,
  folder: string,
  fallbackName: string,
): Promise<MountLayout | undefined> {
  const prefix = folder === '' ? '' : `${folder}/`;
  const manifest = await store.get(`${prefix}${MANIFEST_FILE}`);
  if (manifest.status === 'ok') {
    const { name, version } = manifestIdentity(manifest.body, `${prefix}${MANIFEST_FILE}`);
    return { kind: 'package', folder, model: name, version, hasManifest: true };
  }
  const artifact = await store.get(`${prefix}${ARTIFACT_FILE}`);
  if (artifact.status !== 'ok') return undefined;
  return { kind: 'package', folder, model: fallbackName, version: 1, hasManifest: false };
}

/** Name and version only: the full schema check runs where every manifest is read (the model cache). */
function manifestIdentity(body: Buffer, key: string): { name: string; version: number } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new Error(`${key} is not JSON: ${(err as Error).message}`);
  }
  const { name, version } = (parsed ?? {}) as { name?: unknown; version?: unknown };
  if (typeof name !== 'string' || typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new Error(`${key} names no model (expected "name" and a positive integer "version")`);
  }
  return { name, version };
}

/** One package seen as a read-only repository: `<model>/<version>/*` and a deployment per stage. */
class PackageMount implements ModelStore {
  readonly url: string;

  constructor(
    private readonly store: ModelStore,
    private readonly layout: Extract<MountLayout, { kind: 'package' }>,
  ) {
    this.url = layout.folder === '' ? store.url : `${store.url}/${layout.folder}`;
  }

  async get(key: string, options?: GetOptions): Promise<GetResult> {
    const { model, version, folder, hasManifest } = this.layout;
    const [name, second, file, ...rest] = key.split('/');
    if (name !== model || rest.length > 0) return { status: 'not-found' };
    if (second === DEPLOYMENTS_DIR && file?.endsWith('.json')) {
      if (!hasManifest) return { status: 'not-found' };
      const stage = file.slice(0, -'.json'.length);
      const body = Buffer.from(JSON.stringify(deploymentOf(model, stage, version)));
      return { status: 'ok', body, etag: `"mounted-${version}"` };
    }
    if (second !== String(version) || (file !== ARTIFACT_FILE && file !== MANIFEST_FILE)) {
      return { status: 'not-found' };
    }
    return this.store.get(folder === '' ? file : `${folder}/${file}`, options);
  }

  async list(prefix: string): Promise<string[]> {
    const { model, version } = this.layout;
    const trimmed = prefix.replace(/\/+$/, '');
    if (trimmed === '') return [model];
    if (trimmed === model)
      return this.layout.hasManifest ? [String(version), DEPLOYMENTS_DIR] : [String(version)];
    if (trimmed === `${model}/${version}`) return [ARTIFACT_FILE, MANIFEST_FILE];
    return [];
  }

  async put(key: string, _body: Uint8Array, _options?: PutOptions): Promise<{ etag: string }> {
    throw new Error(`${this.url} is a mounted model package and read-only; cannot write ${key}`);
  }
}

/** Every stage serves the mounted package's one version (the platform chose it by mounting it). */
function deploymentOf(model: string, stage: string, version: number) {
  return {
    schema: DEPLOYMENT_SCHEMA,
    model,
    stage,
    variants: [{ name: 'primary', version, weight: 100 }],
    history: [],
    updatedAt: new Date(0).toISOString(),
  };
}
