import type { Context } from 'aws-lambda';
import { createHandler } from '../../functions/aws/handler';
import type { HookControlPlane } from '../../functions/aws/pre-traffic-hook/control-plane';
import { createHookHandler, type HookEvent } from '../../functions/aws/pre-traffic-hook/hook';
import { promote } from '../../shared/repository/deployment';
import { removeTempDirs, sampleApp } from '../support/fixtures';

afterAll(removeTempDirs);

const TARGET = 'arn:aws:lambda:us-east-1:123456789012:function:modelfleet-prod-infer:7';
const EVENT: HookEvent = { DeploymentId: 'd-ABC123', LifecycleEventHookExecutionId: 'hook-exec-1' };

type Invoke = HookControlPlane['invoke'];

/**
 * MOCK of the AWS control plane (Lambda Invoke, CodeDeploy status): the only part not run for
 * real. By default `invoke` hands the event to the real Lambda handler over a real sample
 * repository, so what is checked is the real function's answer.
 */
class MockControlPlane implements HookControlPlane {
  invocations: { arn: string; payload: unknown }[] = [];
  reports: Parameters<HookControlPlane['reportHookStatus']>[0][] = [];
  constructor(
    private readonly target: Invoke,
    private readonly failReport = false,
  ) {}
  async invoke(arn: string, payload: unknown) {
    this.invocations.push({ arn, payload });
    return this.target(arn, payload);
  }
  async reportHookStatus(input: Parameters<HookControlPlane['reportHookStatus']>[0]) {
    if (this.failReport) throw new Error('codedeploy answered 400: deployment already finished');
    this.reports.push(input);
  }
}

async function realFunction() {
  const { app, repository } = await sampleApp({ stage: 'dev' });
  const lambda = createHandler(app);
  const invoke: Invoke = async (_arn, payload) => ({
    payload: JSON.stringify(await lambda(payload as never, {} as Context)),
  });
  return { invoke, repository };
}

/** Wraps a function so that every inference answer is off by `delta`. */
function skewed(invoke: Invoke, delta: number): Invoke {
  return async (arn, payload) => {
    const result = await invoke(arn, payload);
    const response = JSON.parse(result.payload);
    if (response.statusCode !== 200 || !String(response.body).includes('"outputs"')) return result;
    const body = JSON.parse(response.body);
    for (const output of body.outputs) output.data = output.data.map((x: number) => x + delta);
    return { payload: JSON.stringify({ ...response, body: JSON.stringify(body) }) };
  };
}

describe('pre-traffic hook (CodeDeploy BeforeAllowTraffic)', () => {
  it('reports Succeeded when every deployed version matches its manifest sample', async () => {
    const { invoke, repository } = await realFunction();
    const plane = new MockControlPlane(invoke);
    const hook = createHookHandler({
      controlPlane: plane,
      repository,
      stage: 'dev',
      targetVersionArn: TARGET,
      log: () => {},
    });

    const report = await hook(EVENT);

    expect(plane.reports).toEqual([
      { deploymentId: 'd-ABC123', lifecycleEventHookExecutionId: 'hook-exec-1', status: 'Succeeded' },
    ]);
    expect(report.problems).toEqual([]);
    const models = await repository.listModels();
    expect(models.length).toBeGreaterThanOrEqual(2);
    expect(report.checks.map((check) => check.model).sort()).toEqual([...models].sort());
    expect(report.checks.every((check) => check.ok && check.detail.startsWith('matches'))).toBe(true);
    // Every call went to the new version, never to the alias.
    expect(new Set(plane.invocations.map((call) => call.arn))).toEqual(new Set([TARGET]));
    expect(plane.invocations.map((call) => (call.payload as { rawPath: string }).rawPath)).toContain(
      '/v2/models/iris/versions/1/infer',
    );
  });

  it('reports Failed, naming the output, when the new version answers outside the tolerance', async () => {
    const { invoke, repository } = await realFunction();
    const plane = new MockControlPlane(skewed(invoke, 0.5));
    const hook = createHookHandler({
      controlPlane: plane,
      repository,
      stage: 'dev',
      targetVersionArn: TARGET,
      log: () => {},
    });

    const report = await hook(EVENT);

    expect(plane.reports.map((r) => r.status)).toEqual(['Failed']);
    const iris = report.checks.find((check) => check.model === 'iris');
    expect(iris?.ok).toBe(false);
    expect(iris?.detail).toMatch(/output "probabilities" element 0: got .*expected .*\(±/);
  });

  it('passes an answer that differs by less than the tolerance', async () => {
    const { invoke, repository } = await realFunction();
    const manifest = await repository.readManifest('iris', 1);
    const tolerance = manifest.sample?.tolerance ?? 0;
    expect(tolerance).toBeGreaterThan(0);
    const plane = new MockControlPlane(skewed(invoke, tolerance / 2));
    const hook = createHookHandler({
      controlPlane: plane,
      repository,
      stage: 'dev',
      targetVersionArn: TARGET,
      log: () => {},
    });

    const report = await hook(EVENT);

    expect(report.checks.length).toBeGreaterThanOrEqual(2);
    expect(plane.reports.map((r) => r.status)).toEqual(['Succeeded']);
  });

  it.each([
    [
      'the function crashes',
      async () => ({ functionError: 'Unhandled', payload: '{"errorMessage":"boom"}' }),
      /the function failed \(Unhandled\)/,
    ],
    [
      'the function answers 503',
      async () => ({ payload: JSON.stringify({ statusCode: 503, body: '{"error":"store unavailable"}' }) }),
      /answered 503/,
    ],
    [
      'the invoke call itself fails',
      async () => {
        throw new Error('AccessDeniedException');
      },
      /request failed: AccessDeniedException/,
    ],
  ])('reports Failed when %s', async (_case, target, problem) => {
    const { repository } = await realFunction();
    const plane = new MockControlPlane(target as Invoke);
    const hook = createHookHandler({
      controlPlane: plane,
      repository,
      stage: 'dev',
      targetVersionArn: TARGET,
      log: () => {},
    });

    const report = await hook(EVENT);

    expect(plane.reports.map((r) => r.status)).toEqual(['Failed']);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(/health\/live/);
    expect(report.checks.map((check) => check.detail).join('\n')).toMatch(problem);
  });

  it('checks every version a stage routes to, including a canary variant', async () => {
    const { invoke, repository } = await realFunction();
    const manifest = await repository.readManifest('iris', 1);
    const artifact = await repository.readArtifact('iris', 1);
    const v2 = await repository.publish({ manifest, artifact });
    await repository.updateDeployment('iris', 'dev', (current) => ({
      ...promote(current, { model: 'iris', stage: 'dev', version: 1 }, new Date()),
      variants: [
        { name: 'primary', version: 1, weight: 90 },
        { name: 'canary', version: v2, weight: 10 },
      ],
    }));
    const plane = new MockControlPlane(invoke);
    const hook = createHookHandler({
      controlPlane: plane,
      repository,
      stage: 'dev',
      targetVersionArn: TARGET,
      log: () => {},
    });

    const report = await hook(EVENT);

    expect(report.checks.filter((check) => check.model === 'iris').map((check) => check.version)).toEqual([
      1,
      v2,
    ]);
    expect(plane.reports.map((r) => r.status)).toEqual(['Succeeded']);
  });

  it('refuses an event that is not from CodeDeploy, without reporting', async () => {
    const { invoke, repository } = await realFunction();
    const plane = new MockControlPlane(invoke);
    const hook = createHookHandler({
      controlPlane: plane,
      repository,
      stage: 'dev',
      targetVersionArn: TARGET,
      log: () => {},
    });
    await expect(hook({ DeploymentId: 'd-1' } as HookEvent)).rejects.toThrow(/LifecycleEventHookExecutionId/);
    expect(plane.reports).toEqual([]);
  });

  it('fails the invocation when the status cannot be reported, so that it shows in the logs', async () => {
    const { invoke, repository } = await realFunction();
    const plane = new MockControlPlane(invoke, true);
    const hook = createHookHandler({
      controlPlane: plane,
      repository,
      stage: 'dev',
      targetVersionArn: TARGET,
      log: () => {},
    });
    await expect(hook(EVENT)).rejects.toThrow(/deployment already finished/);
  });
});
