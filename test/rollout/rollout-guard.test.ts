import { irisModel } from '../../scripts/lib/sample-models';
import { LocalMetricSource } from '../../shared/control/metric-sources/local';
import { packageModel } from '../../shared/control/packaging';
import { guardRollout, guardStage } from '../../shared/control/rollout-guard';
import type { MetricSource } from '../../shared/control/rollout-metrics';
import { setCanary } from '../../shared/repository/deployment';
import type { ModelRepository } from '../../shared/repository/repository';
import { pauseRollout, startRollout } from '../../shared/repository/rollout';
import { removeTempDirs, sampleRepository } from '../support/fixtures';

const t0 = Date.parse('2026-05-01T10:00:00.000Z');
const plan = { version: 2, steps: [10, 50, 100], bakeSeconds: 300 };
afterAll(removeTempDirs);

/** `count` requests on a variant in the second after `at`, `errors` of them 503s. */
function feed(
  source: LocalMetricSource,
  side: { variant: string; version: number },
  at: number,
  count: number,
  options: { errors?: number; latencyMs?: number } = {},
) {
  for (let i = 0; i < count; i++) {
    source.aggregator.record({
      timestamp: new Date(at + (i % 50) * 1000).toISOString(),
      requestId: `r${i}`,
      stage: 'local',
      route: 'infer',
      method: 'POST',
      status: i < (options.errors ?? 0) ? 503 : 200,
      model: 'iris',
      variant: side.variant,
      version: side.version,
      coldStart: false,
      latencyMs: (options.latencyMs ?? 20) * (1 + (i % 10) / 10),
    });
  }
}

const primary = { variant: 'primary', version: 1 };
const canary = { variant: 'canary', version: 2 };

async function repositoryWithRollout(): Promise<ModelRepository> {
  const repository = await sampleRepository();
  await repository.publish(await packageModel({ name: 'iris', artifact: irisModel([9.85, 5.5, -12.09]) }));
  await repository.updateDeployment('iris', 'local', (c) => startRollout(c, plan, new Date(t0), 'alice'));
  return repository;
}

describe('rollout guard (executor)', () => {
  it('holds while baking, advances when baked, then rolls a bad step back by CAS with actor and reason', async () => {
    const repository = await repositoryWithRollout();
    const source = new LocalMetricSource();
    const guard = (seconds: number) =>
      guardRollout(
        { repository, source, now: () => new Date(t0 + seconds * 1000), actor: 'guard:test' },
        'iris',
        'local',
      );
    feed(source, primary, t0, 5000, { errors: 50 });
    feed(source, canary, t0, 600, { errors: 6 });
    expect(await guard(60)).toMatchObject({
      action: 'hold',
      reason: 'healthy at 10%, baked 60 of 300s',
      weight: 10,
    });
    const advanced = await guard(300);
    expect(advanced).toMatchObject({ action: 'advance', weight: 10, nextWeight: 50 });
    // The new step's window starts at the advance: the old samples no longer count.
    expect(await guard(301)).toMatchObject({
      action: 'hold',
      reason: expect.stringMatching(/^waiting for samples: canary has 0/),
    });
    feed(source, primary, t0 + 302_000, 3000, { errors: 30 });
    feed(source, canary, t0 + 302_000, 3000, { errors: 150 });
    const rolled = await guard(360);
    expect(rolled).toMatchObject({
      action: 'rollback',
      weight: 50,
      reason: expect.stringContaining('canary errors 150/3000 (5.00%)'),
    });
    const read = await repository.readDeployment('iris', 'local');
    if (read.status !== 'ok') throw new Error('no config');
    expect(read.config.variants).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    expect(read.config.rollout).toMatchObject({ state: 'rolled-back', actor: 'guard:test' });
    expect(read.config.history.slice(-2).map((e) => [e.action, e.actor])).toEqual([
      ['rollout 2 advanced to 50%', 'guard:test'],
      ['rollout 2 rolled back to primary=1:100', 'guard:test'],
    ]);
    expect(await guard(400)).toMatchObject({ action: 'none', reason: 'rollout rolled-back' });
  });

  it('two guards at once advance the rollout exactly once', async () => {
    const repository = await repositoryWithRollout();
    const source = new LocalMetricSource();
    feed(source, primary, t0, 5000);
    feed(source, canary, t0, 600);
    const deps = (n: number) => ({
      repository,
      source,
      now: () => new Date(t0 + 400_000),
      actor: `guard-${n}`,
    });
    const outcomes = await Promise.all([1, 2, 3].map((n) => guardRollout(deps(n), 'iris', 'local')));
    expect(outcomes.filter((o) => o.action === 'advance')).toHaveLength(1);
    for (const o of outcomes.filter((o) => o.action !== 'advance'))
      expect(['stale', 'hold']).toContain(o.action);
    const read = await repository.readDeployment('iris', 'local');
    if (read.status !== 'ok') throw new Error('no config');
    expect(read.config.variants.map((v) => v.weight)).toEqual([50, 50]);
    expect(read.config.history.filter((e) => e.action.includes('advanced'))).toHaveLength(1);
  });

  it.each([
    ['pauses', (c: Parameters<typeof pauseRollout>[0]) => pauseRollout(c, new Date(t0 + 1000), 'bob')],
    [
      'sets a canary by hand',
      (c: Parameters<typeof setCanary>[0]) => setCanary(c, 2, 30, new Date(t0 + 1000), 'bob'),
    ],
  ])('never fights a person who %s while the guard is judging', async (_what, change) => {
    const repository = await repositoryWithRollout();
    const inner = new LocalMetricSource();
    feed(inner, primary, t0, 5000);
    feed(inner, canary, t0, 600, { errors: 300 });
    // The person's write lands between the guard's read and its write.
    const racing: MetricSource = {
      name: 'racing',
      window: async (query) => {
        await repository.updateDeployment('iris', 'local', change);
        return inner.window(query);
      },
    };
    const outcome = await guardRollout(
      { repository, source: racing, now: () => new Date(t0 + 60_000), actor: 'guard:test' },
      'iris',
      'local',
    );
    expect(outcome.action).toBe('stale');
    expect(outcome.verdict?.action).toBe('rollback');
    const read = await repository.readDeployment('iris', 'local');
    if (read.status !== 'ok') throw new Error('no config');
    expect(read.config.history.at(-1)?.actor).toBe('bob');
    expect(read.config.variants.find((v) => v.name === 'canary')?.version).toBe(2);
  });

  it('guards every model of a stage and reports the ones with rollouts', async () => {
    const repository = await repositoryWithRollout();
    const outcomes = await guardStage(
      { repository, source: new LocalMetricSource(), now: () => new Date(t0 + 60_000), actor: 'g' },
      'local',
    );
    expect(outcomes.map((o) => [o.model, o.action])).toEqual([['iris', 'hold']]);
  });
});
