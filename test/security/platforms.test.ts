import type { App } from '../../shared/app';
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
