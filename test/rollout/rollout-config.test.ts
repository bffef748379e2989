import { irisModel } from '../../scripts/lib/sample-models';
import { packageModel } from '../../shared/control/packaging';
import {
  DEPLOYMENT_SCHEMA,
  type DeploymentConfig,
  DeploymentConfigError,
  parseDeployment,
  promote,
  rollback,
  setCanary,
  setShadow,
} from '../../shared/repository/deployment';
import {
  abortRollout,
  advanceRollout,
  pauseRollout,
  resumeRollout,
  rollBackRollout,
  StaleVerdictError,
  startRollout,
} from '../../shared/repository/rollout';
import { DEFAULT_THRESHOLDS } from '../../shared/repository/rollout-plan';
import { removeTempDirs, sampleRepository } from '../support/fixtures';

const t0 = new Date('2026-05-01T10:00:00.000Z');
const later = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);
const base = promote(undefined, { model: 'iris', stage: 'prod', version: 1 }, t0, 'alice');
const plan = { version: 2, steps: [10, 25, 50, 100], bakeSeconds: 300 };

afterAll(removeTempDirs);

describe('rollout plan and state in the deployment config', () => {
  it('still reads configs written before rollouts existed', () => {
    const old = {
      schema: DEPLOYMENT_SCHEMA,
      model: 'iris',
      stage: 'prod',
      variants: [
        { name: 'primary', version: 1, weight: 90 },
        { name: 'canary', version: 2, weight: 10 },
      ],
      lastKnownGood: [{ name: 'primary', version: 1, weight: 100 }],
      history: [{ at: t0.toISOString(), action: 'canary 2 at 10%', variants: [], actor: 'bob' }],
      updatedAt: t0.toISOString(),
    };
    expect(parseDeployment(old, 'x')).toEqual(old);
  });

  it('starts a canary at the first step and records the whole plan with defaults filled in', () => {
    const started = startRollout(base, { ...plan, thresholds: { minRequests: 500 } }, t0, 'alice');
    expect(started.variants).toEqual([
      { name: 'primary', version: 1, weight: 90 },
      { name: 'canary', version: 2, weight: 10 },
    ]);
    expect(started.lastKnownGood).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    expect(started.rollout).toMatchObject({
      version: 2,
      state: 'progressing',
      stepIndex: 0,
      stepStartedAt: t0.toISOString(),
      thresholds: { ...DEFAULT_THRESHOLDS, minRequests: 500 },
    });
    expect(started.history.at(-1)).toMatchObject({
      action: expect.stringContaining('rollout 2 started at 10%'),
      actor: 'alice',
    });
    expect(parseDeployment(started, 'x')).toEqual(started);
  });

  it('advances step by step and promotes at 100%, each change a history entry with actor and reason', () => {
    let config = startRollout(base, plan, t0, 'alice');
    const id = config.rollout?.id ?? '';
    config = advanceRollout(config, { rolloutId: id, stepIndex: 0 }, later(5), 'guard', 'healthy for 300s');
    expect(config.variants.map((v) => v.weight)).toEqual([75, 25]);
    expect(config.rollout).toMatchObject({ stepIndex: 1, stepStartedAt: later(5).toISOString() });
    config = advanceRollout(config, { rolloutId: id, stepIndex: 1 }, later(10), 'guard', 'ok');
    config = advanceRollout(config, { rolloutId: id, stepIndex: 2 }, later(15), 'guard', 'ok at 50%');
    expect(config.variants).toEqual([{ name: 'primary', version: 2, weight: 100 }]);
    expect(config.lastKnownGood).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    expect(config.rollout).toMatchObject({
      state: 'succeeded',
      stepIndex: 3,
      endedAt: later(15).toISOString(),
    });
    expect(config.history.slice(-4).map((e) => [e.action, e.actor, e.reason])).toEqual([
      [expect.stringContaining('started at 10%'), 'alice', undefined],
      ['rollout 2 advanced to 25%', 'guard', 'healthy for 300s'],
      ['rollout 2 advanced to 50%', 'guard', 'ok'],
      ['rollout 2 promoted to 100%', 'guard', 'ok at 50%'],
    ]);
    expect(parseDeployment(config, 'x')).toEqual(config);
  });

  it('rolls back to what served before, and refuses a verdict made for another step or rollout', () => {
    const started = startRollout(base, plan, t0, 'alice');
    const id = started.rollout?.id ?? '';
    const moved = advanceRollout(started, { rolloutId: id, stepIndex: 0 }, later(5), 'guard', 'ok');
    expect(() => advanceRollout(moved, { rolloutId: id, stepIndex: 0 }, later(6), 'guard-2', 'ok')).toThrow(
      StaleVerdictError,
    );
    expect(() =>
      rollBackRollout(moved, { rolloutId: 'other', stepIndex: 1 }, later(6), 'guard', 'x'),
    ).toThrow(StaleVerdictError);
    const back = rollBackRollout(
      moved,
      { rolloutId: id, stepIndex: 1 },
      later(6),
      'guard',
      'errors 3.1% vs 1.0%',
    );
    expect(back.variants).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    expect(back.rollout).toMatchObject({ state: 'rolled-back', reason: 'errors 3.1% vs 1.0%' });
    expect(back.history.at(-1)).toMatchObject({ actor: 'guard', reason: 'errors 3.1% vs 1.0%' });
    expect(() => rollBackRollout(back, { rolloutId: id, stepIndex: 1 }, later(7), 'guard', 'x')).toThrow(
      StaleVerdictError,
    );
  });

  it('pauses (the guard then refuses to act), resumes with a fresh bake, and aborts', () => {
    const started = startRollout(base, plan, t0, 'alice');
    const id = started.rollout?.id ?? '';
    const paused = pauseRollout(started, later(1), 'bob');
    expect(paused.variants).toEqual(started.variants);
    expect(() => advanceRollout(paused, { rolloutId: id, stepIndex: 0 }, later(2), 'guard', 'ok')).toThrow(
      /paused/,
    );
    expect(() => pauseRollout(paused, later(2), 'bob')).toThrow(/already paused/);
    const resumed = resumeRollout(paused, later(3), 'bob');
    expect(resumed.rollout).toMatchObject({ state: 'progressing', stepStartedAt: later(3).toISOString() });
    const aborted = abortRollout(resumed, later(4), 'carol', 'customer complaint');
    expect(aborted.variants).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    expect(aborted.rollout).toMatchObject({ state: 'aborted', actor: 'carol', reason: 'customer complaint' });
    expect(() => abortRollout(aborted, later(5), 'carol')).toThrow(/no rollout is in progress/);
    expect(() => startRollout(resumed, { ...plan, version: 3 }, later(4), 'x')).toThrow(/abort it first/);
  });

  it('plain canary, promote and rollback cancel a managed rollout explicitly; shadow keeps it', () => {
    const started = startRollout(base, plan, t0, 'alice');
    for (const change of [
      (c: DeploymentConfig) => setCanary(c, 2, 30, later(1), 'bob'),
      (c: DeploymentConfig) => promote(c, { model: 'iris', stage: 'prod', version: 2 }, later(1), 'bob'),
      (c: DeploymentConfig) => rollback(c, later(1), 'bob'),
    ]) {
      const after = change(started);
      expect(after.rollout).toBeUndefined();
      expect(after.history.at(-1)?.reason).toBe('cancels the progressing rollout of version 2');
    }
    const shadowed = setShadow(started, { version: 1, sampleRate: 0.1 }, later(1), 'bob');
    expect(shadowed.rollout).toEqual(started.rollout);
  });

  it('refuses bad plans naming the field', () => {
    const bad = (steps: number[]) => {
      const started = startRollout(base, { ...plan, steps: [10, 100] }, t0, 'a');
      return () => parseDeployment({ ...started, rollout: { ...started.rollout, steps } }, 'cfg');
    };
    expect(bad([10, 5, 100])).toThrow(/rollout\.steps\[1\]: steps must increase, got 5 after 10/);
    expect(bad([10, 50])).toThrow(/rollout\.steps: the last step must be 100/);
    expect(bad([10, 50])).toThrow(DeploymentConfigError);
    expect(() => startRollout(base, { ...plan, steps: [100] }, t0, 'a')).toThrow(
      /first step must be below 100/,
    );
  });

  it('is written by compare-and-swap through updateDeployment, and concurrent guards cannot double-advance', async () => {
    const repository = await sampleRepository();
    const pkg = await packageModel({ name: 'iris', artifact: irisModel([9.85, 5.5, -12.09]) });
    expect(await repository.publish(pkg)).toBe(2);
    const started = await repository.updateDeployment('iris', 'local', (c) =>
      startRollout(c, plan, t0, 'alice'),
    );
    const target = { rolloutId: started.rollout?.id ?? '', stepIndex: 0 };
    const outcomes = await Promise.allSettled(
      [1, 2, 3].map((n) =>
        repository.updateDeployment('iris', 'local', (c) =>
          advanceRollout(c, target, later(5), `guard-${n}`, 'ok'),
        ),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    for (const o of outcomes) if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(StaleVerdictError);
    const read = await repository.readDeployment('iris', 'local');
    expect(read.status === 'ok' && read.config.variants.map((v) => v.weight)).toEqual([75, 25]);
    expect(
      read.status === 'ok' && read.config.history.filter((e) => e.action.includes('advanced')),
    ).toHaveLength(1);
  });
});
