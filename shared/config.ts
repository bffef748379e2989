import os from 'node:os';
import path from 'node:path';
import type { MetricSourceSettings } from './control/metric-sources/open';
import { ConfigError } from './errors';
import { parseCorsOrigins } from './http/cors';
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

/** Settings of a rollout guard (functions/<cloud>/guard.ts, `modelfleet guard`). */
export interface GuardSettings {
  stage: string;
  repository: string;
  store: StoreSettings;
  metrics: MetricSourceSettings;
  /** Recorded in the deployment history of every change the guard makes. */
  actor: string;
}

/**
 * MODELFLEET_METRICS names the source: `local:<file of metric lines>`, `cloudwatch`,
 * `cloud-monitoring` or `log-analytics` (each platform's guard passes its own as the default).
 * MODELFLEET_METRICS_ENDPOINT points a cloud source elsewhere (tests, sovereign clouds);
 * MODELFLEET_METRICS_TOKEN gives a bearer token instead of the platform identity (a laptop).
 */
export function parseGuardSettings(env: Env, defaultMetrics?: string): GuardSettings {
  const spec = env['MODELFLEET_METRICS'] || defaultMetrics;
  const endpoint = readUrl(env, 'MODELFLEET_METRICS_ENDPOINT');
  const token = env['MODELFLEET_METRICS_TOKEN'] || undefined;
  const extra = {
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(token === undefined ? {} : { token }),
  };
  const required = (name: string, why: string) => {
    const value = env[name];
    if (value === undefined || value === '') throw new ConfigError(name, `is required ${why}`);
    return value;
  };
  let metrics: MetricSourceSettings;
  if (spec?.startsWith('local:') === true && spec.length > 'local:'.length) {
    metrics = { kind: 'local', file: spec.slice('local:'.length) };
  } else if (spec === 'cloudwatch') {
    const sessionToken = env['AWS_SESSION_TOKEN'];
    metrics = {
      kind: 'cloudwatch',
      region: env['AWS_REGION'] || required('AWS_DEFAULT_REGION', 'for cloudwatch metrics (or AWS_REGION)'),
      credentials: {
        accessKeyId: required('AWS_ACCESS_KEY_ID', 'for cloudwatch metrics'),
        secretAccessKey: required('AWS_SECRET_ACCESS_KEY', 'for cloudwatch metrics'),
        ...(sessionToken ? { sessionToken } : {}),
      },
      namespace: env['POWERTOOLS_METRICS_NAMESPACE'] || 'modelfleet',
      ...(endpoint === undefined ? {} : { endpoint }),
    };
  } else if (spec === 'cloud-monitoring') {
    metrics = {
      kind: 'cloud-monitoring',
      project:
        env['GOOGLE_CLOUD_PROJECT'] ||
        required('GCP_PROJECT', 'for cloud-monitoring metrics (or GOOGLE_CLOUD_PROJECT)'),
      metadataHost: env['GCE_METADATA_HOST'] || 'metadata.google.internal',
      ...extra,
    };
  } else if (spec === 'log-analytics') {
    const identityEndpoint = env['IDENTITY_ENDPOINT'];
    metrics = {
      kind: 'log-analytics',
      workspaceId: required('MODELFLEET_LOG_ANALYTICS_WORKSPACE', 'for log-analytics metrics'),
      ...(identityEndpoint
        ? { identity: { endpoint: identityEndpoint, header: env['IDENTITY_HEADER'] ?? '' } }
        : {}),
      ...extra,
    };
  } else {
    throw new ConfigError(
      'MODELFLEET_METRICS',
      `expected local:<file>, cloudwatch, cloud-monitoring or log-analytics, got ${JSON.stringify(spec ?? '')}`,
    );
  }
  return {
    stage: readString(env, 'MODELFLEET_STAGE', 'local'),
    repository: readString(env, 'MODEL_REPOSITORY', path.resolve('model-repository')),
    store: parseStoreSettings(env),
    metrics,
    actor: readString(env, 'MODELFLEET_GUARD_ACTOR', `guard:${metrics.kind}`),
  };
}
