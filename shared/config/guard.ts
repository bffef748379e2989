import path from 'node:path';
import { DEFAULT_GCP_METRIC_PREFIX } from '../control/metric-sources/cloud-monitoring';
import type { MetricSourceSettings } from '../control/metric-sources/open';
import { ConfigError } from '../errors';
import { stageNameProblem } from '../repository/names';
import type { StoreSettings } from '../store/types';
import { type Env, readString, readUrl } from './env';
import { parseStoreSettings } from './index';

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
    metrics = cloudMonitoringSettings(env, required, extra);
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
  const stage = readString(env, 'MODELFLEET_STAGE', 'local');
  const stageProblem = stageNameProblem(stage);
  if (stageProblem !== undefined) throw new ConfigError('MODELFLEET_STAGE', stageProblem);
  return {
    stage,
    repository: readString(env, 'MODEL_REPOSITORY', path.resolve('model-repository')),
    store: parseStoreSettings(env),
    metrics,
    actor: readString(env, 'MODELFLEET_GUARD_ACTOR', `guard:${metrics.kind}`),
  };
}

function cloudMonitoringSettings(
  env: Env,
  required: (name: string, why: string) => string,
  extra: { endpoint?: string; token?: string },
): MetricSourceSettings {
  // The prefix lands inside a quoted Cloud Monitoring filter: a quote or a space would break it.
  const metricPrefix = readString(env, 'GUARD_METRIC_PREFIX', DEFAULT_GCP_METRIC_PREFIX);
  if (!/^[A-Za-z0-9_./-]+$/.test(metricPrefix)) {
    throw new ConfigError(
      'GUARD_METRIC_PREFIX',
      `expected a metric type prefix such as ${DEFAULT_GCP_METRIC_PREFIX}, got ${JSON.stringify(metricPrefix)}`,
    );
  }
  return {
    kind: 'cloud-monitoring',
    project:
      env['GOOGLE_CLOUD_PROJECT'] ||
      required('GCP_PROJECT', 'for cloud-monitoring metrics (or GOOGLE_CLOUD_PROJECT)'),
    metadataHost: env['GCE_METADATA_HOST'] || 'metadata.google.internal',
    metricPrefix,
    ...extra,
  };
}
