import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors';
import { parseCorsOrigins } from './http/cors';
import { stageNameProblem } from './repository/names';
import { parseSecurityConfig, type SecurityConfig } from './security/config';
import type { StoreSettings } from './store/types';

/** Security settings (auth, rate limits, input limits, model signing): shared/security/config.ts. */
export interface Config extends SecurityConfig {
  /** Deployment stage whose `<model>/deployments/<stage>.json` decides what is served. */
  stage: string;
  /** Where models live: a folder path or `file://` URL (object stores: see the README). */
  repository: string;
  /** Endpoints and credentials of the object-store drivers (see parseStoreSettings). */
  store: StoreSettings;
  /** How long a deployment config is trusted before it is revalidated with the store. */
  deploymentTtlMs: number;
  /** Local folder where downloaded artifacts are kept between requests (and warm restarts). */
  artifactCacheDir: string;
  /** Upper bound of that folder; least recently used versions are removed beyond it (0 = off). */
  artifactCacheBytes: number;
  maxLoadedModels: number;
  maxBodyBytes: number;
  maxTensorElements: number;
  /** Error details and stacks in responses: only ever on the `local` stage. */
  exposeInternals: boolean;
  /**
   * `background`: a sampled shadow runs after the response is returned (only safe where the
   * process keeps running, e.g. the local server). `inline`: the request waits for it, as serverless
   * platforms freeze or throttle an instance once its response is out (docs/architecture.md).
   */
  shadowMode: 'background' | 'inline';
  /** Browser origins allowed by CORS (CORS_ORIGINS); empty = CORS off. */
  corsOrigins: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates every setting once, at cold start. A bad value stops the process with the
 * variable's name rather than surfacing later as a confusing request failure.
 */
export function parseConfig(env: Env, cwd = process.cwd()): Config {
  const stage = readString(env, 'MODELFLEET_STAGE', 'local');
  const stageProblem = stageNameProblem(stage);
  if (stageProblem !== undefined) throw new ConfigError('MODELFLEET_STAGE', stageProblem);
  return {
    stage,
    repository: readString(env, 'MODEL_REPOSITORY', path.join(cwd, 'model-repository')),
    store: parseStoreSettings(env),
    artifactCacheDir: readString(env, 'ARTIFACT_CACHE_DIR', path.join(os.tmpdir(), 'modelfleet-cache')),
    artifactCacheBytes:
      readNumber(env, 'ARTIFACT_CACHE_MB', 512, { min: 0, max: 1024 * 1024, integer: true }) * 1024 * 1024,
    deploymentTtlMs:
      readNumber(env, 'DEPLOYMENT_TTL_SECONDS', stage === 'local' ? 2 : 30, { min: 0, max: 3600 }) * 1000,
    maxLoadedModels: readNumber(env, 'MAX_LOADED_MODELS', 8, { min: 1, max: 1000, integer: true }),
    maxBodyBytes: readNumber(env, 'MAX_BODY_BYTES', 6 * 1024 * 1024, {
      min: 1024,
      max: 1024 ** 3,
      integer: true,
    }),
    maxTensorElements: readNumber(env, 'MAX_TENSOR_ELEMENTS', 16 * 1024 * 1024, {
      min: 1,
      max: 2 ** 31,
      integer: true,
    }),
    exposeInternals: stage === 'local',
    shadowMode: readChoice(
      env,
      'SHADOW_MODE',
      ['background', 'inline'],
      stage === 'local' ? 'background' : 'inline',
    ),
    corsOrigins: readCorsOrigins(env),
    ...parseSecurityConfig(env, stage),
  };
}

/** Where the local server listens (PORT, HOST): read before any model loads, so a typo fails at once. */
export function parseListenAddress(env: Env): { port: number; host: string } {
  return {
    port: readNumber(env, 'PORT', 8080, { min: 0, max: 65535, integer: true }),
    host: readString(env, 'HOST', '127.0.0.1'),
  };
}

/**
 * Object-store settings that do not fit in the repository URL. Credentials themselves are left to
 * each SDK's default chain (see the README); only what selects or reaches an endpoint is read here.
 */
export function parseStoreSettings(env: Env): StoreSettings {
  const settings: StoreSettings = {};
  const s3Endpoint = readUrl(env, 'S3_ENDPOINT');
  if (s3Endpoint !== undefined) settings.s3Endpoint = s3Endpoint;
  const forcePathStyle = readBoolean(env, 'S3_FORCE_PATH_STYLE');
  if (forcePathStyle !== undefined) settings.s3ForcePathStyle = forcePathStyle;
  const region = env['AWS_REGION']?.trim() || env['AWS_DEFAULT_REGION']?.trim();
  if (region) settings.s3Region = region;
  const connectionString = env['AZURE_STORAGE_CONNECTION_STRING']?.trim();
  if (connectionString) {
    if (
      !/(^|;)\s*(AccountName|BlobEndpoint|SharedAccessSignature|UseDevelopmentStorage)=/i.test(
        connectionString,
      )
    ) {
      throw new ConfigError(
        'AZURE_STORAGE_CONNECTION_STRING',
        'is not a storage connection string (expected AccountName=…;AccountKey=… or BlobEndpoint=…;SharedAccessSignature=…)',
      );
    }
    settings.azureConnectionString = connectionString;
  }
  const azureEndpoint = readUrl(env, 'AZURE_STORAGE_BLOB_ENDPOINT');
  if (azureEndpoint !== undefined) settings.azureEndpoint = azureEndpoint;
  const gcsEndpoint = readUrl(env, 'GCS_API_ENDPOINT');
  if (gcsEndpoint !== undefined) settings.gcsApiEndpoint = gcsEndpoint;
  const project = env['GOOGLE_CLOUD_PROJECT']?.trim();
  if (project) settings.gcsProjectId = project;
  return settings;
}

function readUrl(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `expected an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `expected an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/+$/, '');
}

function readBoolean(env: Env, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `expected true or false, got ${JSON.stringify(env[name])}`);
}

function readCorsOrigins(env: Env): string[] {
  const parsed = parseCorsOrigins(readString(env, 'CORS_ORIGINS', ''));
  if (typeof parsed === 'string') throw new ConfigError('CORS_ORIGINS', parsed);
  return parsed;
}

function readString(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? fallback : value;
}

function readChoice<const T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const value = readString(env, name, fallback);
  if (!(choices as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function readNumber(
  env: Env,
  name: string,
  fallback: number,
  rule: { min: number; max: number; integer?: boolean },
): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || (rule.integer === true && !Number.isInteger(value))) {
    throw new ConfigError(
      name,
      `expected ${rule.integer ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`,
    );
  }
  if (value < rule.min || value > rule.max) {
    throw new ConfigError(name, `must be between ${rule.min} and ${rule.max}, got ${value}`);
  }
  return value;
}
