import os from 'node:os';
import path from 'node:path';
import { ConfigError } from './errors';
import { parseCorsOrigins } from './http/cors';
import { parseSecurityConfig, type SecurityConfig } from './security/config';
import type { MonitoringSettings } from './serving/monitoring';
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
  /** Data capture and drift (docs/monitoring.md). */
  monitoring: MonitoringSettings;
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
    monitoring: parseMonitoringSettings(env, stage),
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

/** Capture is off unless asked for: it writes to the model repository's store. */
export function parseMonitoringSettings(env: Env, stage: string): MonitoringSettings {
  const rate = (name: string, raw: string) => {
    const value = Number(raw);
    if (raw.trim() === '' || !(value >= 0 && value <= 1)) {
      throw new ConfigError(name, `expected a sample rate from 0 to 1, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const overrides: Record<string, number> = {};
  for (const entry of readString(env, 'CAPTURE_SAMPLE_RATES', '').split(',')) {
    if (entry.trim() === '') continue;
    const match = /^\s*([A-Za-z0-9][A-Za-z0-9_.-]{0,127})\s*=\s*(\S*)\s*$/.exec(entry);
    if (match === null) {
      throw new ConfigError(
        'CAPTURE_SAMPLE_RATES',
        `expected model=rate pairs separated by ",", got ${JSON.stringify(entry)}`,
      );
    }
    overrides[match[1] as string] = rate('CAPTURE_SAMPLE_RATES', match[2] as string);
  }
  return {
    captureSampleRate: rate('CAPTURE_SAMPLE_RATE', readString(env, 'CAPTURE_SAMPLE_RATE', '0')),
    captureSampleRates: overrides,
    captureInputs: readBoolean(env, 'CAPTURE_INPUTS') ?? false,
    captureBatchRecords: readNumber(env, 'CAPTURE_BATCH_RECORDS', 500, {
      min: 1,
      max: 100_000,
      integer: true,
    }),
    captureMaxAgeMs: readNumber(env, 'CAPTURE_MAX_AGE_SECONDS', 60, { min: 0, max: 3600 }) * 1000,
    captureBufferRecords: readNumber(env, 'CAPTURE_BUFFER_RECORDS', 5000, {
      min: 1,
      max: 1_000_000,
      integer: true,
    }),
    driftIntervalMs:
      readNumber(env, 'DRIFT_INTERVAL_SECONDS', stage === 'local' ? 60 : 300, { min: 0, max: 86_400 }) * 1000,
    driftMinRows: readNumber(env, 'DRIFT_MIN_ROWS', 100, { min: 1, max: 1e9, integer: true }),
    driftPsiThreshold: readNumber(env, 'DRIFT_PSI_THRESHOLD', 0.2, { min: 0, max: 100 }),
  };
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
