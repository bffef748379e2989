import type { EvaluationWindow, VariantAggregate } from '../../shared/control/rollout-metrics';
import { decideRollout } from '../../shared/control/rollout-verdict';
import { binomialUpperTail, logGamma, normalUpperTail } from '../../shared/control/statistics';
import { DEFAULT_THRESHOLDS, type Rollout } from '../../shared/repository/rollout-plan';

const start = new Date('2026-05-01T10:00:00.000Z');
const at = (seconds: number) => new Date(start.getTime() + seconds * 1000);

const rollout: Rollout = {
  id: '2@x',
  version: 2,
  steps: [10, 25, 50, 100],
  bakeSeconds: 300,
  thresholds: DEFAULT_THRESHOLDS,
  state: 'progressing',
  stepIndex: 0,
  startedAt: start.toISOString(),
  stepStartedAt: start.toISOString(),
};

const healthy = (requests: number, errors = Math.round(requests * 0.01)): VariantAggregate => ({
  requests,
  serverErrors: errors,
  clientErrors: 0,
  coldStarts: 0,
  warmLatency: { count: requests, p50: 20, p99: 80 },
});

const window = (canary: VariantAggregate, primary: VariantAggregate = healthy(9000)): EvaluationWindow => ({
  start,
  end: at(60),
  canary,
  primary,
});

describe('statistics', () => {
  it('computes exact binomial tails, log-gamma and normal tails', () => {
    expect(binomialUpperTail(3, 10, 0.5)).toBeCloseTo(0.9453125, 12);
    expect(binomialUpperTail(8, 10, 0.5)).toBeCloseTo(0.0546875, 12);
    expect(binomialUpperTail(0, 10, 0.3)).toBe(1);
    expect(binomialUpperTail(11, 10, 0.3)).toBe(0);
    // P(X >= 30 | n = 10000, p = 0.001) for a Poisson-like tail: mean 10.
    expect(binomialUpperTail(30, 10_000, 0.001)).toBeGreaterThan(1e-8);
    expect(binomialUpperTail(30, 10_000, 0.001)).toBeLessThan(1e-6);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 10);
    expect(normalUpperTail(1.959964)).toBeCloseTo(0.025, 6);
    expect(normalUpperTail(-1.959964)).toBeCloseTo(0.975, 6);
  });
});

describe('decideRollout', () => {
  it('gives no verdict below the minimum samples, even for a canary failing every request', () => {
    const verdict = decideRollout(rollout, window({ ...healthy(450), serverErrors: 450 }), at(600));
    expect(verdict.action).toBe('hold');
    expect(verdict.reason).toBe('waiting for samples: canary has 450 of 500 requests (4xx excluded)');
  });

  it('never counts client errors, neither as failures nor as samples', () => {
    const lots = { ...healthy(700), clientErrors: 300 };
    expect(decideRollout(rollout, window(lots), at(600)).action).toBe('hold');
    const judged = { ...healthy(1600, 15), clientErrors: 1000 };
    const verdict = decideRollout(rollout, window(judged), at(600));
    expect(verdict.action).toBe('advance');
    expect(verdict.reason).toContain('canary errors 15/600 (2.50%)');
  });

  it('does not flap at low traffic: a few errors more than expected is not significant', () => {
    expect(decideRollout(rollout, window(healthy(500, 9)), at(600)).action).toBe('advance');
  });

  it('rolls back a canary with three times the error rate, naming the rates', () => {
    const verdict = decideRollout(rollout, window(healthy(2000, 60)), at(30));
    expect(verdict.action).toBe('rollback');
    expect(verdict.reason).toMatch(
      /^canary errors 60\/2000 \(3\.00%\) vs primary 90\/9000 \(1\.00%\): above 1\.2x/,
    );
  });

  it('rolls back above the absolute ceiling only when the canary is the worse one', () => {
    const ceiling = {
      ...rollout,
      thresholds: { ...DEFAULT_THRESHOLDS, maxErrorRate: 0.01, maxErrorRatio: 10 },
    };
    expect(decideRollout(ceiling, window(healthy(2000, 60), healthy(9000, 270)), at(30)).action).not.toBe(
      'rollback',
    );
    const verdict = decideRollout(ceiling, window(healthy(2000, 60), healthy(9000, 0)), at(30));
    expect(verdict.action).toBe('rollback');
    expect(verdict.reason).toContain('above the 1.00% ceiling');
  });

  it('judges latency on warm requests only and waits while cold starts dominate', () => {
    const coldBurst = { ...healthy(500), coldStarts: 420, warmLatency: { count: 380, p50: 20, p99: 81 } };
    const verdict = decideRollout(rollout, window(coldBurst), at(600));
    expect(verdict.action).toBe('hold');
    expect(verdict.reason).toBe('waiting for warm requests: canary 380, primary 9000 of 500');
    const slow = { ...healthy(1000), warmLatency: { count: 1000, p50: 30, p99: 170 } };
    const rolled = decideRollout(rollout, window(slow), at(30));
    expect(rolled).toMatchObject({
      action: 'rollback',
      reason: expect.stringContaining('(2.13x): above 1.5x'),
    });
  });

  it('judges accuracy when feedback exists, and waits for enough of it', () => {
    const withAccuracy = (count: number, correct: number) => ({
      ...healthy(2000),
      accuracy: { count, correct },
    });
    const primary = { ...healthy(9000), accuracy: { count: 4000, correct: 3600 } };
    expect(decideRollout(rollout, window(withAccuracy(100, 90), primary), at(600)).reason).toBe(
      'waiting for feedback: canary 100, primary 4000 of 500',
    );
    const worse = decideRollout(rollout, window(withAccuracy(2000, 1700), primary), at(600));
    expect(worse).toMatchObject({
      action: 'rollback',
      reason: expect.stringContaining('accuracy 85.00% (2000) vs 90.00% (4000)'),
    });
    expect(decideRollout(rollout, window(withAccuracy(2000, 1790), primary), at(600)).action).toBe('advance');
  });

  it('holds a healthy canary until the step has baked, then advances with the evidence as the reason', () => {
    expect(decideRollout(rollout, window(healthy(1000)), at(120))).toMatchObject({
      action: 'hold',
      reason: 'healthy at 10%, baked 120 of 300s',
    });
    const verdict = decideRollout(rollout, window(healthy(1000)), at(300));
    expect(verdict.action).toBe('advance');
    expect(verdict.reason).toMatch(/^healthy at 10% for 300s: canary 1000 requests; canary errors 10\/1000/);
  });
});
