import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { awsControlPlane } from '../../functions/aws/pre-traffic-hook/control-plane';
import { parseAwsCallSettings } from '../../shared/config/aws';

// A local HTTP server stands in for the Lambda and CodeDeploy endpoints (on 127.0.0.1): the
// requests the hook would send to AWS are checked for shape and signing headers.
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let endpoint: string;
const seen: Seen[] = [];
let answer: { status: number; headers?: Record<string, string>; body: string } = { status: 200, body: '{}' };

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen.length = 0;
});

const ENV = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'session-token',
};
const plane = () =>
  awsControlPlane(
    parseAwsCallSettings({
      ...ENV,
      AWS_ENDPOINT_URL_LAMBDA: endpoint,
      AWS_ENDPOINT_URL_CODEDEPLOY: endpoint,
    }),
  );

describe('AWS control plane over signed HTTP', () => {
  it('invokes a qualified function version synchronously, signed for lambda', async () => {
    answer = { status: 200, body: '{"statusCode":200,"body":"ok"}' };
    const arn = 'arn:aws:lambda:eu-west-1:123456789012:function:modelfleet-prod-infer:7';

    const result = await plane().invoke(arn, { rawPath: '/v2/health/live' });

    expect(result).toEqual({ payload: '{"statusCode":200,"body":"ok"}' });
    const [request] = seen;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(`/2015-03-31/functions/${encodeURIComponent(arn)}/invocations`);
    expect(request?.headers['x-amz-invocation-type']).toBe('RequestResponse');
    expect(request?.headers['x-amz-security-token']).toBe('session-token');
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
    );
    expect(JSON.parse(request?.body ?? '')).toEqual({ rawPath: '/v2/health/live' });
  });

  it('returns the function error header of a crashed invocation', async () => {
    answer = { status: 200, headers: { 'x-amz-function-error': 'Unhandled' }, body: '{"errorMessage":"x"}' };
    const result = await plane().invoke('arn:aws:lambda:eu-west-1:1:function:f:1', {});
    expect(result).toEqual({ functionError: 'Unhandled', payload: '{"errorMessage":"x"}' });
  });

  it('reports a hook status with the CodeDeploy JSON protocol', async () => {
    answer = { status: 200, body: '{"lifecycleEventHookExecutionId":"e-1"}' };

    await plane().reportHookStatus({
      deploymentId: 'd-1',
      lifecycleEventHookExecutionId: 'e-1',
      status: 'Failed',
    });

    const [request] = seen;
    expect(request?.url).toBe('/');
    expect(request?.headers['x-amz-target']).toBe('CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus');
    expect(request?.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(request?.headers.authorization).toMatch(/\/eu-west-1\/codedeploy\/aws4_request/);
    expect(JSON.parse(request?.body ?? '')).toEqual({
      deploymentId: 'd-1',
      lifecycleEventHookExecutionId: 'e-1',
      status: 'Failed',
    });
  });

  it('turns an AWS error answer into an error naming the service and status', async () => {
    answer = { status: 403, body: '{"__type":"AccessDeniedException"}' };
    await expect(
      plane().reportHookStatus({
        deploymentId: 'd',
        lifecycleEventHookExecutionId: 'e',
        status: 'Succeeded',
      }),
    ).rejects.toThrow(/codedeploy \/ answered 403: .*AccessDeniedException/);
  });

  it('needs the credentials Lambda provides', () => {
    expect(() => parseAwsCallSettings({ AWS_REGION: 'eu-west-1' })).toThrow(/AWS_ACCESS_KEY_ID/);
  });
});
