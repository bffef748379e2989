import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, SourceData } from '@smithy/types';

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

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Both calls over signed HTTPS with the function's own credentials. @aws-sdk/client-codedeploy is
 * not a dependency of this project, and two JSON calls do not justify one: SigV4 comes from
 * @smithy/signature-v4 (already installed with @aws-sdk/client-s3).
 * AWS_ENDPOINT_URL_LAMBDA / AWS_ENDPOINT_URL_CODEDEPLOY override the endpoints, as in the SDKs.
 */
export function awsControlPlane(env: Env = process.env, fetchImpl: typeof fetch = fetch): HookControlPlane {
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (!region || !accessKeyId || !secretAccessKey) {
    throw new Error('AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required (set by Lambda)');
  }
  const credentials = {
    accessKeyId,
    secretAccessKey,
    ...(env['AWS_SESSION_TOKEN'] ? { sessionToken: env['AWS_SESSION_TOKEN'] } : {}),
  };
  const call = async (
    service: string,
    endpoint: string,
    path: string,
    headers: Record<string, string>,
    body: string,
  ) => {
    const url = new URL(path, endpoint);
    const signer = new SignatureV4({ service, region, credentials, sha256: NodeSha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query: {},
      headers: { host: url.host, ...headers },
      body,
    });
    // fetch derives Host from the URL (the same value that was signed) and refuses to be told it.
    const { host: _host, ...sent } = signed.headers;
    const response = await fetchImpl(url, { method: 'POST', headers: sent, body });
    const text = await response.text();
    if (!response.ok)
      throw new Error(`${service} ${path} answered ${response.status}: ${text.slice(0, 500)}`);
    return { response, text };
  };
  const lambdaEndpoint = env['AWS_ENDPOINT_URL_LAMBDA'] ?? `https://lambda.${region}.amazonaws.com`;
  const codeDeployEndpoint =
    env['AWS_ENDPOINT_URL_CODEDEPLOY'] ?? `https://codedeploy.${region}.amazonaws.com`;
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

/** sha256 / HMAC-sha256 for the signer, from node:crypto. */
class NodeSha256 implements Checksum {
  private hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(secret));
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    throw new Error('NodeSha256 is single-use');
  }
}

function toBuffer(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
