import type { MetricSource } from '../rollout-metrics';
import { CloudMonitoringMetricSource } from './cloud-monitoring';
import { CloudWatchMetricSource } from './cloudwatch';
import { type AwsCredentials, MetricQueryError, requestJson } from './http-json';
import { LocalMetricSource } from './local';
import { LogAnalyticsMetricSource } from './log-analytics';

/** Where a guard reads its metrics; parsed from the environment by shared/config.ts. */
export type MetricSourceSettings =
  | { kind: 'local'; file: string }
  | { kind: 'cloudwatch'; region: string; credentials: AwsCredentials; namespace: string; endpoint?: string }
  | {
      kind: 'cloud-monitoring';
      project: string;
      endpoint?: string;
      token?: string;
      metadataHost: string;
      metricPrefix?: string;
    }
  | {
      kind: 'log-analytics';
      workspaceId: string;
      endpoint?: string;
      token?: string;
      identity?: { endpoint: string; header: string };
    };

export function openMetricSource(settings: MetricSourceSettings): MetricSource {
  switch (settings.kind) {
    case 'local':
      return LocalMetricSource.fromFile(settings.file);
    case 'cloudwatch':
      return new CloudWatchMetricSource({
        region: settings.region,
        credentials: settings.credentials,
        namespace: settings.namespace,
        ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      });
    case 'cloud-monitoring': {
      const token = settings.token;
      return new CloudMonitoringMetricSource({
        project: settings.project,
        accessToken: token === undefined ? gcpMetadataToken(settings.metadataHost) : async () => token,
        ...(settings.metricPrefix === undefined ? {} : { metricPrefix: settings.metricPrefix }),
        ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      });
    }
    case 'log-analytics': {
      const { token, identity } = settings;
      if (token === undefined && identity === undefined) {
        throw new MetricQueryError('log-analytics needs a managed identity (IDENTITY_ENDPOINT) or a token');
      }
      return new LogAnalyticsMetricSource({
        workspaceId: settings.workspaceId,
        accessToken:
          token === undefined
            ? azureIdentityToken(identity as { endpoint: string; header: string })
            : async () => token,
        ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
      });
    }
  }
}

/** The function's service-account token from the GCE metadata server (Cloud Functions have one). */
export function gcpMetadataToken(host: string): () => Promise<string> {
  return async () => {
    const answer = (await requestJson(
      new URL(`http://${host}/computeMetadata/v1/instance/service-accounts/default/token`),
      { method: 'GET', headers: { 'metadata-flavor': 'Google' } },
      'GCP metadata token',
    )) as { access_token?: string };
    if (typeof answer.access_token !== 'string') throw new MetricQueryError('GCP metadata: no access_token');
    return answer.access_token;
  };
}

/** A managed-identity token for Log Analytics from the Functions host's identity endpoint. */
export function azureIdentityToken(identity: { endpoint: string; header: string }): () => Promise<string> {
  return async () => {
    const url = new URL(identity.endpoint);
    url.searchParams.set('resource', 'https://api.loganalytics.io');
    url.searchParams.set('api-version', '2019-08-01');
    const answer = (await requestJson(
      url,
      { method: 'GET', headers: { 'x-identity-header': identity.header } },
      'Azure managed identity token',
    )) as { access_token?: string };
    if (typeof answer.access_token !== 'string')
      throw new MetricQueryError('managed identity: no access_token');
    return answer.access_token;
  };
}
