import type * as ort from 'onnxruntime-web';
import { BadRequestError, IntegrityError, NotFoundError } from '../shared/errors';
import { OIP, oipResponseBody } from '../shared/protocol/payloads';
import { type DeploymentConfig, parseDeployment, pickVariant } from '../shared/repository/deployment';
import { deploymentKey, manifestKey } from '../shared/repository/layout';
import { ARTIFACT_FILE, type Manifest, parseManifest } from '../shared/repository/manifest';
import type { Target } from '../shared/serving/dataplane';
import { runInference } from '../shared/serving/inference';
import type { LoadedModel } from '../shared/serving/model-cache';
import { checkSample } from '../shared/serving/sample-check';
import { stickyKeyValue, stickyPointWebCrypto } from '../shared/traffic/sticky-hash';
import { type FetchLike, fetchWithCache, type ResponseStore } from './fetch-cache';
import { importSigningKeys, verifyArtifact, verifyAttestation } from './verify';

export interface LoadOptions {
  /** Base URL of a model repository or an exported folder (`<model>/<version>/manifest.json`, …). */
  repository?: string;
  model?: string;
  /** Reads `<model>/deployments/<stage>.json` and picks a variant as the server does. */
  stage?: string;
  /** A pinned version: no deployment is read (variant "pinned", as on /versions/{v}/infer). */
  version?: number;
  /** Instead of repository + model: the URL of one version's manifest.json (model.onnx beside it). */
  manifestUrl?: string;
  /** The user's routing key; with a sticky deployment it lands on the same variant as server-side. */
  stickyKey?: string;
  /** Trusted Ed25519 public keys by key id, as in MODEL_SIGNING_KEYS. */
  signingKeys?: Readonly<Record<string, string>>;
  /** Refuse unsigned models (default: true when signingKeys are given). */
  requireSignedModels?: boolean;
  /** Largest tensor a request may send (default 16 Mi elements, as the server). */
  maxTensorElements?: number;
  /** Random source for non-sticky variant picks, in [0, 1). */
  random?: () => number;
}

/** What a platform supplies: onnxruntime-web, a fetch, a place to keep verified copies. */
export interface EdgeRuntime {
  ort: typeof ort;
  fetch: FetchLike;
  store?: ResponseStore;
  executionProviders: string[];
}

/** How a loaded version was verified, for display and audit. */
export interface Verification {
  sha256: string;
  /** The key id whose signature was verified; undefined for an accepted unsigned manifest. */
  signedBy?: string;
  /** The manifest sample ran and matched within its tolerance (false only when there is no sample). */
  sampleChecked: boolean;
  sampleRunMs?: number;
  /** Where the artifact came from: a fresh download, a kept copy the server confirmed, or offline. */
  artifactSource: 'network' | 'revalidated' | 'offline';
}

export interface EdgeModel {
  readonly name: string;
  readonly version: number;
  readonly variant: string;
  readonly sticky: boolean;
  readonly manifest: Manifest;
  readonly verification: Verification;
  readonly loadMs: number;
  /** An OIP v2 infer request (object or JSON text) in, the OIP v2 JSON response out. */
  infer(request: unknown): Promise<InferResponse>;
  release(): Promise<void>;
}

export interface InferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: { variant: string };
  outputs: { name: string; datatype: string; shape: number[]; data?: unknown[] }[];
}

const DEFAULT_MAX_TENSOR_ELEMENTS = 16 * 1024 * 1024;

/**
 * Loads a model the way the server does: deployment → variant (same sticky hash) → manifest
 * (schema, signature) → artifact (size, sha256) → session → the manifest sample within tolerance.
 * Nothing runs until every check passed; any failure is an error naming what was wrong.
 */
export async function loadModel(options: LoadOptions, runtime: EdgeRuntime): Promise<EdgeModel> {
  const started = performance.now();
  const located = await locate(options, runtime);
  const manifest = await readManifest(located, runtime);
  const keys = await importSigningKeys(options.signingKeys ?? {});
  const requireSigned = options.requireSignedModels ?? keys.size > 0;
  const signedBy = await verifyAttestation(manifest, keys, requireSigned);
  const artifact = await fetchWithCache(
    new URL(ARTIFACT_FILE, located.manifestUrl).href,
    runtime.fetch,
    runtime.store,
  );
  if (artifact.status === 'not-found') {
    throw new NotFoundError(`model "${manifest.name}" version ${manifest.version} has no ${ARTIFACT_FILE}`);
  }
  const sha256 = await verifyArtifact(manifest, artifact.bytes);
  const session = await runtime.ort.InferenceSession.create(artifact.bytes, {
    executionProviders: runtime.executionProviders,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 4,
  });
  const loaded: LoadedModel = {
    name: manifest.name,
    version: manifest.version,
    manifest,
    session,
    inputs: new Map(manifest.signature.inputs.map((spec) => [spec.name, spec])),
    outputs: new Map(manifest.signature.outputs.map((spec) => [spec.name, spec])),
    loadMs: 0,
  };
  let sampleRunMs: number | undefined;
  if (manifest.sample !== undefined) {
    const check = await checkSample(loaded, manifest.sample);
    if (!check.ok) {
      await session.release();
      throw new IntegrityError(
        `refused: model "${manifest.name}" version ${manifest.version} failed its sample check: ${check.problems.join('; ')}`,
      );
    }
    sampleRunMs = check.runMs;
  }
  await artifact.keep();
  await located.keep();
  const verification: Verification = {
    sha256,
    ...(signedBy === undefined ? {} : { signedBy }),
    sampleChecked: manifest.sample !== undefined,
    ...(sampleRunMs === undefined ? {} : { sampleRunMs }),
    artifactSource: artifact.source,
  };
  return edgeModel(loaded, located.target, verification, performance.now() - started, options);
}

interface Located {
  manifestUrl: string;
  target: Target;
  /** Keeps the deployment and manifest documents read on the way, once the version is verified. */
  keep(): Promise<void>;
  keepManifest?: () => Promise<void>;
}

async function locate(options: LoadOptions, runtime: EdgeRuntime): Promise<Located> {
  if (options.manifestUrl !== undefined) {
    return {
      manifestUrl: options.manifestUrl,
      target: { version: 0, variant: PINNED },
      keep: async () => {},
    };
  }
  const { repository, model } = options;
  if (repository === undefined || model === undefined) {
    throw new TypeError('load: give either manifestUrl, or repository and model');
  }
  const base = repository.endsWith('/') ? repository : `${repository}/`;
  if (options.version !== undefined) {
    const manifestUrl = new URL(manifestKey(model, options.version), base).href;
    return { manifestUrl, target: { version: options.version, variant: PINNED }, keep: async () => {} };
  }
  const stage = options.stage ?? 'local';
  const read = await fetchWithCache(
    new URL(deploymentKey(model, stage), base).href,
    runtime.fetch,
    runtime.store,
  );
  if (read.status === 'not-found') throw new NotFoundError(`model "${model}" not found`);
  const config = parseDeployment(parseJson(read.bytes, `${model} deployment ${stage}`), `${model}/${stage}`);
  const target = await pickTarget(config, options);
  return { manifestUrl: new URL(manifestKey(model, target.version), base).href, target, keep: read.keep };
}

const PINNED = 'pinned';

/** The server's pick (shared/traffic/variant-pick.ts routeRequest) with the hash done by WebCrypto. */
export async function pickTarget(
  config: Pick<DeploymentConfig, 'variants' | 'sticky'>,
  options: Pick<LoadOptions, 'stickyKey' | 'random'>,
): Promise<Target> {
  const key = stickyKeyValue(options.stickyKey);
  const sticky = config.sticky !== undefined && key !== undefined;
  const point =
    config.sticky !== undefined && key !== undefined
      ? await stickyPointWebCrypto(key, config.sticky.experiment)
      : (options.random ?? Math.random)();
  const variant = pickVariant(config.variants, point);
  return { version: variant.version, variant: variant.name, sticky };
}

async function readManifest(located: Located, runtime: EdgeRuntime): Promise<Manifest> {
  const read = await fetchWithCache(located.manifestUrl, runtime.fetch, runtime.store);
  const wanted = located.target.version;
  if (read.status === 'not-found') {
    const model = located.manifestUrl.split('/').at(-3) ?? '?';
    throw new NotFoundError(
      wanted > 0 ? `model "${model}" has no version ${wanted}` : `${located.manifestUrl} not found`,
    );
  }
  let manifest: Manifest;
  try {
    manifest = parseManifest(parseJson(read.bytes, located.manifestUrl), located.manifestUrl);
  } catch (err) {
    throw new IntegrityError(`refused: ${(err as Error).message}`, { cause: err });
  }
  if (wanted > 0 && manifest.version !== wanted) {
    throw new IntegrityError(
      `refused: ${located.manifestUrl} holds version ${manifest.version}, expected ${wanted}`,
    );
  }
  if (wanted === 0) located.target.version = manifest.version;
  const keepDeployment = located.keep;
  located.keep = async () => {
    await keepDeployment();
    await read.keep();
  };
  return manifest;
}

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new IntegrityError(`refused: ${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function edgeModel(
  loaded: LoadedModel,
  target: Target,
  verification: Verification,
  loadMs: number,
  options: LoadOptions,
): EdgeModel {
  const limits = { maxTensorElements: options.maxTensorElements ?? DEFAULT_MAX_TENSOR_ELEMENTS };
  return {
    name: loaded.name,
    version: loaded.version,
    variant: target.variant,
    sticky: target.sticky === true,
    manifest: loaded.manifest,
    verification,
    loadMs,
    async infer(request: unknown): Promise<InferResponse> {
      const body = typeof request === 'string' ? parseRequestText(request) : request;
      const call = OIP.parse(body, loaded, limits);
      if (call.binaryOutputs !== undefined) {
        throw new BadRequestError(
          'binary_data_output: binary tensor data is an HTTP extension; ask for JSON outputs',
        );
      }
      const { outputs } = await runInference(loaded, call);
      const requestId = globalThis.crypto.randomUUID();
      return oipResponseBody({ model: loaded, target, call, outputs, requestId }) as InferResponse;
    },
    release: () => loaded.session.release(),
  };
}

function parseRequestText(text: string): unknown {
  if (text.trim() === '')
    throw new BadRequestError('request body: expected a JSON object, got an empty body');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}
