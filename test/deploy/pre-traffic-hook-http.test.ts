import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';
import { createHandler } from '../../functions/aws/handler';
import { handler } from '../../functions/aws/pre-traffic-hook';
import { removeTempDirs, sampleApp } from '../support/fixtures';

// The deployed hook end to end, as Lambda runs it (configuration from the environment), except
// that a local server on 127.0.0.1 plays AWS: its Lambda Invoke endpoint runs the real inference
// handler over a real sample repository, and its CodeDeploy endpoint records the reported status.
let server: Server;
const reports: { target: string | undefined; body: Record<string, string> }[] = [];
const invoked: string[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  // The hook logs its verdict as one JSON line; keep test output quiet.
  jest.spyOn(console, 'log').mockImplementation(() => {});
  const { app, repository } = await sampleApp({ stage: 'dev' });
  const lambda = createHandler(app);
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', async () => {
      if (req.url?.startsWith('/2015-03-31/functions/')) {
        invoked.push(decodeURIComponent(req.url.split('/')[3] ?? ''));
        const result = await lambda(JSON.parse(body), {} as Context);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(result));
        return;
      }
      reports.push({ target: req.headers['x-amz-target'] as string | undefined, body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_ENDPOINT_URL_LAMBDA: endpoint,
    AWS_ENDPOINT_URL_CODEDEPLOY: endpoint,
    MODELFLEET_STAGE: 'dev',
    MODEL_REPOSITORY: repository.store.url,
  });
  delete process.env['TARGET_VERSION_ARN'];
});

afterAll(async () => {
  process.env = savedEnv;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  removeTempDirs();
});

beforeEach(() => {
  reports.length = 0;
  invoked.length = 0;
});

const event = { DeploymentId: 'd-XYZ', LifecycleEventHookExecutionId: 'exec-9' };

describe('deployed pre-traffic hook', () => {
  it('still reports Failed to CodeDeploy when it is misconfigured', async () => {
    await expect(handler(event)).rejects.toThrow(/TARGET_VERSION_ARN: is not set/);
    expect(reports).toEqual([
      {
        target: 'CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus',
        body: { deploymentId: 'd-XYZ', lifecycleEventHookExecutionId: 'exec-9', status: 'Failed' },
      },
    ]);
    expect(invoked).toEqual([]);
  });

  it('tests the target version over signed HTTP and reports Succeeded', async () => {
    const target = 'arn:aws:lambda:us-east-1:123456789012:function:modelfleet-dev-infer:3';
    process.env['TARGET_VERSION_ARN'] = target;

    const report = await handler(event);

    expect(report.ok).toBe(true);
    expect(new Set(invoked)).toEqual(new Set([target]));
    expect(invoked.length).toBe(1 + report.checks.length);
    expect(reports.map((r) => r.body.status)).toEqual(['Succeeded']);
  });
});
