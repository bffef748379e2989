import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors';
import { parseCorsOrigins } from '../http/cors';
import { isStage, STAGE_RULE } from '../repository/names';
import type { SecurityConfig } from '../security/settings';
import type { S3Credentials } from '../store/s3-reader';
import type { StoreSettings } from '../store/types';
import { type Env, readBoolean, readChoice, readNumber, readString, readUrl } from './env';
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
  /** CloudWatch namespace of the EMF metrics (POWERTOOLS_METRICS_NAMESPACE, as Powertools names it). */
  metricsNamespace: string;
}

/**
 * Reads and validates every setting once, at cold start. A bad value stops the process with the
 * variable's name rather than surfacing later as a confusing request failure.
 */
export function parseConfig(env: Env, cwd = process.cwd()): Config {
  const stage = readString(env, 'MODELFLEET_STAGE', 'local');
  if (!isStage(stage)) {
    throw new ConfigError('MODELFLEET_STAGE', `${STAGE_RULE}, got ${JSON.stringify(stage)}`);
  }
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
    metricsNamespace: readMetricsNamespace(env),
    ...parseSecurityConfig(env, stage),
  };
}

/**
 * Object-store settings that do not fit in the repository URL. Credentials are left to each SDK's
 * default chain (see the README), except S3 keys in the environment, which the SDK-free reader takes.
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
