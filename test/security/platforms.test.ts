import type { Context } from 'aws-lambda';
import { createHandler } from '../../functions/aws/handler';
import type { HookControlPlane } from '../../functions/aws/pre-traffic-hook/control-plane';
import { createHookHandler } from '../../functions/aws/pre-traffic-hook/hook';
import type { App } from '../../shared/app';
import { parseConfig } from '../../shared/config';
import type { ConformanceCase } from '../conformance/cases';
import {
  apiGatewayV1,
  azureFunctions,
  listenLocal,
  overHttp,
  payloadV2,
  type Send,
} from '../conformance/targets';
import { removeTempDirs } from '../support/fixtures';
import { API_KEYS, KEYS, securedApp } from './support';

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0)) await close();
  removeTempDirs();
});

const body = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
});
const call = (path: string, headers: Record<string, string> = {}) =>
  ({
    name: path,
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', ...headers },
    body,
    expect: { status: 0 },
  }) as ConformanceCase;

const TARGETS: Record<string, (app: App) => Promise<Send>> = {
  'AWS API Gateway REST (v1)': async (app) => apiGatewayV1(app),
  'AWS HTTP API (v2)': async (app) => payloadV2(app, 'http-api'),
  'AWS Function URL': async (app) => payloadV2(app, 'function-url'),
  'Azure Functions': async (app) => azureFunctions(app),
  'local server over HTTP': async (app) => {
    const server = await listenLocal(app);
    closers.push(server.close);
    return overHttp(server.base);
  },
};

// The guard lives in the core, so it holds the same behind every adapter (GCP: the conformance
// suite runs its functions-framework process on default-deny `dev` with a key).
describe.each(Object.entries(TARGETS))('authentication behind %s', (_name, target) => {
  it('answers 401 without a key, 200 with one, 403 for a client key on a pinned version', async () => {
    const { app } = await securedApp({ API_KEYS });
    const send = await target(app);
    const anonymous = await send(call('/v2/models/iris/infer'));
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer, ApiKey');
    expect(anonymous.headers['x-content-type-options']).toBe('nosniff');
    expect(JSON.parse(anonymous.body.toString())).toMatchObject({
      error: expect.stringContaining('x-api-key'),
    });
    expect((await send(call('/v2/models/iris/infer', { 'x-api-key': KEYS.predict }))).status).toBe(200);
    const pinned = await send(call('/v2/models/iris/versions/1/infer', { 'x-api-key': KEYS.predict }));
    expect(pinned.status).toBe(403);
    expect((await send(call('/v2/models/iris/versions/1/infer', { 'x-api-key': KEYS.admin }))).status).toBe(
      200,
    );
  });
});

describe('callers the platform authenticated (AWS IAM)', () => {
  const v2Event = (authorizer?: unknown) => ({
    version: '2.0',
    rawPath: '/v2/models/iris/versions/1/infer',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      http: { method: 'POST', path: '/v2/models/iris/versions/1/infer', sourceIp: '10.0.0.1' },
      stage: '$default',
      ...(authorizer === undefined ? {} : { authorizer }),
    },
    body,
    isBase64Encoded: false,
  });

  it('trusts authorizer.iam of a payload v2 event with PLATFORM_CALLER_SCOPES, and nothing from headers', async () => {
    const handler = createHandler((await securedApp({ API_KEYS })).app);
    const iam = { iam: { userArn: 'arn:aws:iam::123456789012:role/release' } };
    const status = async (event: unknown) =>
      ((await handler(event as never, {} as Context)) as { statusCode: number }).statusCode;
    expect(await status(v2Event(iam))).toBe(200);
    expect(await status(v2Event())).toBe(401);
    expect(await status({ ...v2Event(), headers: { 'x-amzn-iam-userarn': 'arn:aws:iam::1:root' } })).toBe(
      401,
    );
    const closed = createHandler((await securedApp({ API_KEYS, PLATFORM_CALLER_SCOPES: 'none' })).app);
    expect(((await closed(v2Event(iam) as never, {} as Context)) as { statusCode: number }).statusCode).toBe(
      401,
    );
    const predictOnly = createHandler((await securedApp({ PLATFORM_CALLER_SCOPES: 'predict' })).app);
    const refused = (await predictOnly(v2Event(iam) as never, {} as Context)) as {
      statusCode: number;
      body: string;
    };
    expect(refused.statusCode).toBe(403);
    expect(JSON.parse(refused.body).error).toContain(
      'caller iam:arn:aws:iam::123456789012:role/release lacks',
    );
    expect(() => parseConfig({ PLATFORM_CALLER_SCOPES: 'root' })).toThrow(
      'PLATFORM_CALLER_SCOPES: "root" is not a scope',
    );
  });

  it('lets the pre-traffic hook smoke-test pinned versions on a default-deny stage without a key', async () => {
    const { app, repository } = await securedApp({ API_KEYS });
    const lambda = createHandler(app);
    const reports: string[] = [];
    // MOCK of the AWS control plane (Lambda Invoke, CodeDeploy): invoke hands the event to the real handler.
    const controlPlane: HookControlPlane = {
      invoke: async (_arn, payload) => ({
        payload: JSON.stringify(await lambda(payload as never, {} as Context)),
      }),
      reportHookStatus: async (input) => {
        reports.push(input.status);
      },
    };
    const hook = createHookHandler({
      controlPlane,
      repository,
      stage: 'dev',
      targetVersionArn: 'arn:aws:lambda:us-east-1:123456789012:function:modelfleet-dev-infer:2',
      log: () => {},
    });
    const report = await hook({ DeploymentId: 'd-1', LifecycleEventHookExecutionId: 'h-1' });
    expect(report.problems).toEqual([]);
    expect(report.checks.map((c) => [c.model, c.ok])).toEqual(
      expect.arrayContaining([
        ['iris', true],
        ['house-price', true],
      ]),
    );
    expect(reports).toEqual(['Succeeded']);
  });
});
