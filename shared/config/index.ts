import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors';
import { parseCorsOrigins } from '../http/cors';
import { stageNameProblem } from '../repository/names';
import type { SecurityConfig } from '../security/settings';
import type { MonitoringSettings } from '../serving/monitoring';
import type { S3Credentials } from '../store/s3-reader';
import { DEFAULT_STORE_DEADLINES, type StoreDeadlines, type StoreSettings } from '../store/types';
import { type Env, readBoolean, readChoice, readNumber, readString, readUrl } from './env';
import { parseMonitoringSettings } from './monitoring';
import { parseSecurityConfig } from './security';

/** Security settings (auth, rate limits, input limits, model signing): shared/config/security.ts. */
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
  /** Data capture and drift (docs/monitoring.md). */
  monitoring: MonitoringSettings;
  /** CloudWatch namespace of the EMF metrics (POWERTOOLS_METRICS_NAMESPACE, as Powertools names it). */
  metricsNamespace: string;
  /**
   * Proxies in front of the server that append to X-Forwarded-For (TRUSTED_PROXY_HOPS): the client
   * address is the entry this many from the right; 0 ignores the header (the socket's peer). Not
   * used on AWS, whose events carry the address. See defaultProxyHops.
   */
  trustedProxyHops: number;
}

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
    metricsNamespace: readMetricsNamespace(env),
    monitoring: parseMonitoringSettings(env, stage),
    trustedProxyHops: readNumber(env, 'TRUSTED_PROXY_HOPS', defaultProxyHops(env), {
      min: 0,
      max: 10,
      integer: true,
    }),
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
 * Object-store settings that do not fit in the repository URL, and the deadlines of store calls.
 * Credentials are left to each SDK's default chain (see the README), except S3 keys in the
 * environment, which the SDK-free reader takes.
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
  const s3Credentials = environmentCredentials(env);
  if (s3Credentials !== undefined) settings.s3Credentials = s3Credentials;
  return settings;
}

/**
 * Credentials for the reader when the SDK's default chain would take them from the environment:
 * both keys set and no AWS_PROFILE (which makes the SDK skip the environment for the profile).
 */
export function environmentCredentials(env: Env): S3Credentials | undefined {
  const accessKeyId = env['AWS_ACCESS_KEY_ID']?.trim();
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY']?.trim();
  if (!accessKeyId || !secretAccessKey || env['AWS_PROFILE']?.trim()) return undefined;
  const sessionToken = env['AWS_SESSION_TOKEN']?.trim();
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
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

function readCorsOrigins(env: Env): string[] {
  const parsed = parseCorsOrigins(readString(env, 'CORS_ORIGINS', ''));
  if (typeof parsed === 'string') throw new ConfigError('CORS_ORIGINS', parsed);
  return parsed;
}

function readMetricsNamespace(env: Env): string {
  const namespace = readString(env, 'POWERTOOLS_METRICS_NAMESPACE', 'modelfleet');
  // CloudWatch's rule for namespaces; a bad one would drop every metric line silently.
  if (!/^[0-9A-Za-z.\-_/#:]{1,255}$/.test(namespace)) {
    throw new ConfigError(
      'POWERTOOLS_METRICS_NAMESPACE',
      `must be 1-255 letters, digits or . - _ / # :, got ${JSON.stringify(namespace)}`,
    );
  }
  return namespace;
}
