import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { HttpRequest } from '@azure/functions';
import { getFunction } from '@google-cloud/functions-framework/testing';
import { createGuardHandler } from '../../functions/aws/guard';
import { onAlert, onTimer } from '../../functions/azure/guard';
// Registers the CloudEvent target with the framework (read back with getFunction).
import '../../functions/gcp/guard';
import { irisModel } from '../../scripts/lib/sample-models';
import { parseGuardSettings } from '../../shared/config/guard';
import { createGuardRun } from '../../shared/control/guard-run';
import { packageModel } from '../../shared/control/packaging';
import { ConfigError } from '../../shared/errors';
import type { ModelRepository } from '../../shared/repository/repository';
import { startRollout } from '../../shared/repository/rollout';
import { cloudWatchAnswer, startFakeApi } from '../fakes/metric-apis-fake';
import { removeTempDirs, sampleRepository, tempDir } from '../support/fixtures';

afterAll(removeTempDirs);

async function withRollout(): Promise<ModelRepository> {
  const repository = await sampleRepository();
  await repository.publish(await packageModel({ name: 'iris', artifact: irisModel([9.85, 5.5, -12.09]) }));
  const start = new Date(Date.now() - 120_000);
  await repository.updateDeployment('iris', 'local', (c) =>
    startRollout(c, { version: 2, steps: [10, 100], bakeSeconds: 3600 }, start, 'alice'),
  );
  return repository;
}

async function rolloutState(repository: ModelRepository): Promise<string | undefined> {
  const read = await repository.readDeployment('iris', 'local');
  return read.status === 'ok' ? read.config.rollout?.state : undefined;
}

/** A bad canary, as the local server's metric lines: 50% server errors. */
function badCanaryLines(file: string): void {
  const at = new Date(Date.now() - 30_000).toISOString();
  const line = (variant: string, version: number, status: number) =>
    `{"type":"modelfleet.request",${JSON.stringify({ timestamp: at, requestId: 'r', stage: 'local', route: 'infer', method: 'POST', status, model: 'iris', version, variant, coldStart: false, latencyMs: 10 }).slice(1)}`;
  const lines: string[] = [];
  for (let i = 0; i < 2000; i++) lines.push(line('primary', 1, i % 100 === 0 ? 500 : 200));
  for (let i = 0; i < 600; i++) lines.push(line('canary', 2, i % 2 === 0 ? 500 : 200));
  writeFileSync(file, `${lines.join('\n')}\n`);
}

describe('guard settings', () => {
  it('names the variable that is missing or wrong', () => {
    expect(() => parseGuardSettings({})).toThrow(ConfigError);
    expect(() => parseGuardSettings({ MODELFLEET_METRICS: 'prometheus' })).toThrow(
      /MODELFLEET_METRICS.*cloudwatch/,
    );
    expect(() => parseGuardSettings({ AWS_REGION: 'eu-west-1' }, 'cloudwatch')).toThrow(/AWS_ACCESS_KEY_ID/);
    expect(() => parseGuardSettings({}, 'log-analytics')).toThrow(/MODELFLEET_LOG_ANALYTICS_WORKSPACE/);
    expect(() => parseGuardSettings({}, 'cloud-monitoring')).toThrow(/GCP_PROJECT/);
    expect(() =>
      parseGuardSettings(
        { GOOGLE_CLOUD_PROJECT: 'p', GUARD_METRIC_PREFIX: 'user/x" OR "' },
        'cloud-monitoring',
      ),
    ).toThrow(/GUARD_METRIC_PREFIX/);
    expect(parseGuardSettings({ GOOGLE_CLOUD_PROJECT: 'p' }, 'cloud-monitoring').metrics).toMatchObject({
      kind: 'cloud-monitoring',
      project: 'p',
      metricPrefix: 'logging.googleapis.com/user/modelfleet_',
    });
    expect(
      parseGuardSettings({ MODELFLEET_METRICS: 'local:/tmp/m.jsonl', MODELFLEET_STAGE: 'prod' }),
    ).toMatchObject({
      stage: 'prod',
      metrics: { kind: 'local', file: '/tmp/m.jsonl' },
      actor: 'guard:local',
    });
  });
});

describe('AWS guard Lambda', () => {
  it('rolls a bad canary back from CloudWatch figures when the canary alarm invokes it', async () => {
    const repository = await withRollout();
    const fake = await startFakeApi(
      cloudWatchAnswer({
        'primary/1/Requests/Sum': [9000],
        'primary/1/Errors/Sum': [90],
        'primary/1/WarmLatency/p99': [50],
        'primary/1/WarmLatency/SampleCount': [8900],
        'canary/2/Requests/Sum': [1000],
        'canary/2/Errors/Sum': [200],
        'canary/2/WarmLatency/p99': [52],
        'canary/2/WarmLatency/SampleCount': [800],
      }),
    );
    try {
      const settings = parseGuardSettings(
        {
          MODEL_REPOSITORY: repository.store.url,
          AWS_REGION: 'eu-west-1',
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'secret',
          MODELFLEET_METRICS_ENDPOINT: fake.endpoint,
        },
        'cloudwatch',
      );
      const logged: Record<string, unknown>[] = [];
      const handler = createGuardHandler(createGuardRun(settings, (line) => logged.push(line)));
      const ok = await handler({
        source: 'aws.cloudwatch',
        alarmData: { alarmName: 'canary', state: { value: 'OK' } },
      });
      expect(ok).toEqual({ trigger: 'alarm canary OK', outcomes: [] });
      expect(fake.requests).toHaveLength(0);
      const fired = await handler({
        source: 'aws.cloudwatch',
        alarmData: { alarmName: 'canary', state: { value: 'ALARM' } },
      });
      expect(fired.trigger).toBe('alarm canary');
      expect(fired.outcomes).toMatchObject([{ model: 'iris', action: 'rollback', weight: 10 }]);
      expect(await rolloutState(repository)).toBe('rolled-back');
      expect(logged[0]).toMatchObject({ msg: 'rollout guard', trigger: 'alarm canary' });
      const read = await repository.readDeployment('iris', 'local');
      expect(read.status === 'ok' && read.config.history.at(-1)?.actor).toBe(
        'guard:cloudwatch (alarm canary)',
      );
    } finally {
      await fake.close();
    }
  });
});

describe('GCP and Azure guard entries', () => {
  const saved = { ...process.env };
  let repository: ModelRepository;

  beforeEach(async () => {
    repository = await withRollout();
    const metrics = path.join(tempDir('modelfleet-guard-'), 'metrics.jsonl');
    badCanaryLines(metrics);
    Object.assign(process.env, {
      MODEL_REPOSITORY: repository.store.url,
      MODELFLEET_METRICS: `local:${metrics}`,
    });
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  it('GCP target modelfleetGuard judges on a Pub/Sub message, and ignores a closed incident', async () => {
    const guard = getFunction('modelfleetGuard') as (event: unknown) => Promise<void>;
    const message = (payload: unknown) => ({
      specversion: '1.0',
      type: 'google.cloud.pubsub.topic.v1.messagePublished',
      source: '//pubsub.googleapis.com/projects/p/topics/modelfleet-guard',
      id: '1',
      data: { message: { data: Buffer.from(JSON.stringify(payload)).toString('base64') } },
    });
    await guard(message({ incident: { policy_name: 'canary', state: 'closed' } }));
    expect(await rolloutState(repository)).toBe('progressing');
    await guard(message({ incident: { policy_name: 'canary errors', state: 'open' } }));
    expect(await rolloutState(repository)).toBe('rolled-back');
  });

  it('Azure alert webhook runs the guard only when the alert fired; the timer judges too', async () => {
    const alert = (condition: string) =>
      new HttpRequest({
        method: 'POST',
        url: 'http://127.0.0.1/_guard/alert',
        body: {
          string: JSON.stringify({
            data: { essentials: { alertRule: 'canary', monitorCondition: condition } },
          }),
        },
      });
    expect(await onAlert(alert('Resolved'))).toMatchObject({ status: 202 });
    expect(await rolloutState(repository)).toBe('progressing');
    expect(await onTimer()).toMatchObject({ trigger: 'schedule', outcomes: [{ action: 'rollback' }] });
    expect(await rolloutState(repository)).toBe('rolled-back');
  });
});
