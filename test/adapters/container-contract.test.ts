/**
 * withContract in process: a platform request is translated once per request object, so the
 * core's guard runs once across admit and handle; refusals are finished by the core (request id,
 * metric event); other requests pass unchanged.
 */
import { withContract } from '../../functions/container/contract';
import { sagemakerContract } from '../../functions/container/sagemaker';
import { parseContainerSettings } from '../../shared/config/container';
import { buildTestApp, json, removeTempDirs, sampleRepository } from '../support/fixtures';

afterAll(removeTempDirs);

async function sagemakerApp(env: Record<string, string> = {}) {
  const testApp = buildTestApp(await sampleRepository(), {
    env: { MODELFLEET_STAGE: 'dev', ...env },
    now: () => 1_000_000,
  });
  const settings = parseContainerSettings({ SERVING_CONTRACT: 'sagemaker' });
  if (settings === undefined) throw new Error('no settings');
  const models = await testApp.app.repository.listModels();
  return { ...testApp, app: withContract(testApp.app, sagemakerContract({ settings, models })) };
}

const invocation = (body: string, headers: Record<string, string> = {}) => ({
  method: 'POST',
  path: '/invocations',
  query: {},
  headers: { 'content-type': 'text/csv', 'x-amzn-sagemaker-target-model': 'iris.tar.gz', ...headers },
  body,
  sourceIp: '10.0.0.9',
});

describe('withContract', () => {
  it('takes one rate-limit token for a request admitted before its body is read', async () => {
    const { app } = await sagemakerApp({ RATE_LIMIT_CLIENT_RPS: '1', RATE_LIMIT_CLIENT_BURST: '1' });
    const request = invocation('5.1,3.5,1.4,0.2\n');
    const { body } = request;
    const admitted = { ...request, body: undefined as string | undefined };
    await app.admit(admitted);
    admitted.body = body;
    const response = await app.handle(admitted);
    expect(response.status).toBe(200);
    // The bucket is empty now: the next request from that client is refused.
    expect((await app.handle(invocation('5.1,3.5,1.4,0.2\n'))).status).toBe(429);
  });

  it('answers an untranslatable request through the core: request id, headers, one metric event', async () => {
    const { app, events } = await sagemakerApp();
    const response = await app.handle(
      invocation('{}', { 'content-type': 'application/xml', 'x-request-id': 'abc' }),
    );
    expect(response.status).toBe(415);
    expect(response.headers['x-request-id']).toBe('abc');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(json(response)).toEqual({
      error:
        'content-type: SageMaker invocations take application/json, text/csv or application/x-npy, got "application/xml"',
      id: 'abc',
    });
    expect(events.map((e) => [e.route, e.status, e.errorClass])).toEqual([
      ['mlflow_invocations', 415, 'unsupported_media_type'],
    ]);
  });

  it('passes every other request to the core unchanged, keys and all', async () => {
    const { app } = await sagemakerApp();
    const infer = await app.handle({ method: 'GET', path: '/v2/models/iris', query: {}, headers: {} });
    expect(infer.status).toBe(401);
    expect((await app.handle({ method: 'GET', path: '/ping', query: {}, headers: {} })).status).toBe(200);
  });
});
