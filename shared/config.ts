import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors';
import { parseCorsOrigins } from './http/cors';
import { parseSecurityConfig, type SecurityConfig } from './security/config';
import { DEFAULT_STORE_DEADLINES, type StoreDeadlines, type StoreSettings } from './store/types';

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
  /**
   * Deadline of one revalidation (it runs in the background while requests keep the cached
   * config); past it the last good config keeps serving and the next TTL tries again.
   */
  deploymentRevalidateMs: number;
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
  /**
   * Proxies in front of the server that append to X-Forwarded-For (TRUSTED_PROXY_HOPS): the client
   * address is the entry this many from the right; 0 ignores the header (the socket's peer). Not
   * used on AWS, whose events carry the address. See defaultProxyHops.
   */
  trustedProxyHops: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads and validates every setting once, at cold start. A bad value stops the process with the
 * variable's name rather than surfacing later as a confusing request failure.
 */
export function parseConfig(env: Env, cwd = process.cwd()): Config {
  const stage = readString(env, 'MODELFLEET_STAGE', 'local');
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(stage)) {
    throw new ConfigError(
      'MODELFLEET_STAGE',
      `must be 1-32 lower-case letters, digits, "_" or "-", got ${JSON.stringify(stage)}`,
    );
  }
  return {
    stage,
    repository: readString(env, 'MODEL_REPOSITORY', path.join(cwd, 'model-repository')),
    store: parseStoreSettings(env),
    artifactCacheDir: readString(env, 'ARTIFACT_CACHE_DIR', defaultCacheDir()),
    artifactCacheBytes:
      readNumber(env, 'ARTIFACT_CACHE_MB', 512, { min: 0, max: 1024 * 1024, integer: true }) * 1024 * 1024,
    deploymentTtlMs:
      readNumber(env, 'DEPLOYMENT_TTL_SECONDS', stage === 'local' ? 2 : 30, { min: 0, max: 3600 }) * 1000,
    deploymentRevalidateMs: readNumber(env, 'DEPLOYMENT_REVALIDATE_TIMEOUT_MS', 3000, {
      min: 100,
      max: 60_000,
      integer: true,
    }),
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
    trustedProxyHops: readNumber(env, 'TRUSTED_PROXY_HOPS', defaultProxyHops(env), {
      min: 0,
      max: 10,
      integer: true,
    }),
    ...parseSecurityConfig(env, stage),
  };
}

/**
 * One hop where the platform's own front end is known to append the peer it saw, and nothing else
 * can reach the server: Cloud Run and Cloud Functions gen 2 (K_SERVICE, set by the platform) and
 * Azure Functions / App Service (WEBSITE_INSTANCE_ID). Anywhere else (the framework or the image
 * run directly, a workstation) X-Forwarded-For is whatever the client wrote: trust none.
 */
function defaultProxyHops(env: Env): number {
  return env['K_SERVICE']?.trim() || env['WEBSITE_INSTANCE_ID']?.trim() ? 1 : 0;
}

/**
 * Per user, so two users of one host never share (or can pre-create) each other's cache; the
 * cache also refuses a folder it does not own (shared/serving/artifact-cache.ts).
 */
function defaultCacheDir(): string {
  const uid = process.getuid?.();
  const user = uid ?? os.userInfo().username.replace(/[^\w.-]/g, '_');
  return path.join(os.tmpdir(), `modelfleet-cache-${user}`);
}

/**
 * Object-store settings that do not fit in the repository URL. Credentials themselves are left to
 * each SDK's default chain (see the README); only what selects or reaches an endpoint is read here.
 */
export function parseStoreSettings(env: Env): StoreSettings {
  const settings: StoreSettings = { deadlines: parseStoreDeadlines(env) };
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

/** STORE_CONNECT_TIMEOUT_MS, STORE_FIRST_BYTE_TIMEOUT_MS, STORE_TIMEOUT_MS, STORE_RETRY_BUDGET. */
function parseStoreDeadlines(env: Env): StoreDeadlines {
  const ms = { min: 100, max: 15 * 60_000, integer: true };
  const deadlines: StoreDeadlines = {
    connectMs: readNumber(env, 'STORE_CONNECT_TIMEOUT_MS', DEFAULT_STORE_DEADLINES.connectMs, ms),
    firstByteMs: readNumber(env, 'STORE_FIRST_BYTE_TIMEOUT_MS', DEFAULT_STORE_DEADLINES.firstByteMs, ms),
    totalMs: readNumber(env, 'STORE_TIMEOUT_MS', DEFAULT_STORE_DEADLINES.totalMs, ms),
    retryTokens: readNumber(env, 'STORE_RETRY_BUDGET', DEFAULT_STORE_DEADLINES.retryTokens, {
      min: 0,
      max: 1000,
      integer: true,
    }),
  };
  if (deadlines.connectMs > deadlines.totalMs || deadlines.firstByteMs > deadlines.totalMs) {
    throw new ConfigError(
      'STORE_TIMEOUT_MS',
      `must be at least STORE_CONNECT_TIMEOUT_MS and STORE_FIRST_BYTE_TIMEOUT_MS, got ${deadlines.totalMs}`,
    );
  }
  return deadlines;
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
