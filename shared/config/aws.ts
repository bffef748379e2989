import { ConfigError } from '../errors';
import type { AwsCredentials } from '../store/sigv4';
import type { Env } from './env';

/** What a function needs to call AWS APIs itself: region, its credentials, endpoint overrides. */
export interface AwsCallSettings {
  region: string;
  credentials: AwsCredentials;
  /** AWS_ENDPOINT_URL_LAMBDA / AWS_ENDPOINT_URL_CODEDEPLOY, as in the SDKs. */
  lambdaEndpoint?: string;
  codeDeployEndpoint?: string;
}

/** Lambda sets all of these for every function; a missing one fails the cold start by name. */
export function parseAwsCallSettings(env: Env): AwsCallSettings {
  const region = env['AWS_REGION']?.trim() || env['AWS_DEFAULT_REGION']?.trim();
  if (!region) throw new ConfigError('AWS_REGION', 'is required (Lambda sets it)');
  const accessKeyId = env['AWS_ACCESS_KEY_ID']?.trim();
  if (!accessKeyId) throw new ConfigError('AWS_ACCESS_KEY_ID', 'is required (Lambda sets it)');
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY']?.trim();
  if (!secretAccessKey) throw new ConfigError('AWS_SECRET_ACCESS_KEY', 'is required (Lambda sets it)');
  const sessionToken = env['AWS_SESSION_TOKEN']?.trim();
  const lambdaEndpoint = env['AWS_ENDPOINT_URL_LAMBDA']?.trim();
  const codeDeployEndpoint = env['AWS_ENDPOINT_URL_CODEDEPLOY']?.trim();
  return {
    region,
    credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) },
    ...(lambdaEndpoint ? { lambdaEndpoint } : {}),
    ...(codeDeployEndpoint ? { codeDeployEndpoint } : {}),
  };
}

/** The pre-traffic hook's own setting: which version it smoke-tests (set by infra/aws). */
export function parseHookTarget(env: Env): string {
  const target = env['TARGET_VERSION_ARN']?.trim();
  if (!target)
    throw new ConfigError('TARGET_VERSION_ARN', 'is not set (infra/aws/modelfleet-plugin.js sets it)');
  return target;
}
