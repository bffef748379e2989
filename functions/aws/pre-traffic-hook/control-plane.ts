import type { AwsCallSettings } from '../../../shared/config/aws';
import { signRequest } from '../../../shared/store/sigv4';

/** The two AWS control-plane calls the pre-traffic hook makes; tests substitute a mock. */
export interface HookControlPlane {
  /** Synchronous Lambda invoke of a qualified function ARN (a version). */
  invoke(functionArn: string, payload: unknown): Promise<{ functionError?: string; payload: string }>;
  /** codedeploy:PutLifecycleEventHookExecutionStatus */
  reportHookStatus(input: {
    deploymentId: string;
    lifecycleEventHookExecutionId: string;
    status: 'Succeeded' | 'Failed';
  }): Promise<void>;
}

/**
 * Both calls over signed HTTPS with the function's own credentials. @aws-sdk/client-codedeploy is
 * not a dependency of this project, and two JSON calls do not justify one: the signature comes
 * from the project's own SigV4 signer (shared/store/sigv4.ts).
 */
export function awsControlPlane(
  settings: AwsCallSettings,
  fetchImpl: typeof fetch = fetch,
): HookControlPlane {
  const { region, credentials } = settings;
  const call = async (
    service: string,
    endpoint: string,
    path: string,
    headers: Record<string, string>,
    body: string,
  ) => {
    const url = new URL(path, endpoint);
    const signed = signRequest({
      method: 'POST',
      host: url.host,
      path: url.pathname,
      search: '',
      credentials,
      region,
      date: new Date(),
      service,
      headers,
      body,
    });
    // fetch derives Host from the URL (the same value that was signed) and refuses to be told it.
    const { host: _host, ...sent } = signed;
    const response = await fetchImpl(url, { method: 'POST', headers: sent, body });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`${service} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
    return { response, text };
  };
  const lambdaEndpoint = settings.lambdaEndpoint ?? `https://lambda.${region}.amazonaws.com`;
  const codeDeployEndpoint = settings.codeDeployEndpoint ?? `https://codedeploy.${region}.amazonaws.com`;
  return {
    async invoke(functionArn, payload) {
      const { response, text } = await call(
        'lambda',
        lambdaEndpoint,
        `/2015-03-31/functions/${encodeURIComponent(functionArn)}/invocations`,
        { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
        JSON.stringify(payload),
      );
      const functionError = response.headers.get('x-amz-function-error') ?? undefined;
      return { payload: text, ...(functionError === undefined ? {} : { functionError }) };
    },
    async reportHookStatus(input) {
      await call(
        'codedeploy',
        codeDeployEndpoint,
        '/',
        {
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus',
        },
        JSON.stringify(input),
      );
    },
  };
}
