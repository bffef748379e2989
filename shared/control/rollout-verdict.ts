import type { Rollout, RolloutThresholds } from '../repository/rollout-plan';
import { type EvaluationWindow, judgedRequests, type VariantAggregate } from './rollout-metrics';
import { binomialUpperTail, normalUpperTail } from './statistics';

/**
 * The guard's decision for one evaluation window: a pure function of the rollout, the canary's and
 * the primary's aggregates since the step began, and the clock. Every check says pass, fail or
 * wait; any fail rolls back, any wait holds, and only a fully judged, healthy step that has baked
 * advances. No check judges on fewer than its minimum samples (it waits).
 *
 * Error rates: errors are rare events, so given the total number of server errors k seen by both
 * variants, the canary's share is Binomial(k, π) with π = r·n_c / (r·n_c + n_p) when the canary's
 * rate is exactly r times the primary's (the conditional test for two Poisson rates). The tail
 * P(X ≥ observed) is summed exactly, so it holds at 3 errors as well as at 3000, with no continuity
 * correction to tune; the margin r (maxErrorRatio) keeps a slightly worse canary from failing, and a
 * small significance level keeps low traffic from flapping. An absolute ceiling (maxErrorRate)
 * uses the exact one-sample binomial tail the same way.
 * Latency: warm p99 against the primary's warm p99, only once both have enough warm requests,
 * so a burst of cold starts (new instances at a new weight) never counts.
 * Accuracy (when feedback exists): a one-sided two-proportion z test with a continuity correction
 * on primary − canary accuracy against the allowed drop.
 */

export type VerdictAction = 'advance' | 'hold' | 'rollback';

export interface Check {
  name: 'samples' | 'errors' | 'error-ceiling' | 'latency' | 'accuracy' | 'bake';
  status: 'pass' | 'fail' | 'wait';
  detail: string;
}

export interface Verdict {
  action: VerdictAction;
  reason: string;
  checks: Check[];
}

export function decideRollout(rollout: Rollout, window: EvaluationWindow, now: Date): Verdict {
  const limits = rollout.thresholds;
  const checks: Check[] = [sampleCheck(window, limits)];
  if (checks[0]?.status === 'pass') {
    checks.push(errorRatioCheck(window, limits), errorCeilingCheck(window, limits));
    checks.push(latencyCheck(window, limits));
    const accuracy = accuracyCheck(window, limits);
    if (accuracy !== undefined) checks.push(accuracy);
  }
  const failed = checks.filter((check) => check.status === 'fail');
  if (failed.length > 0) {
    return { action: 'rollback', reason: failed.map((c) => c.detail).join('; '), checks };
  }
  const waiting = checks.filter((check) => check.status === 'wait');
  if (waiting.length > 0) {
    return { action: 'hold', reason: waiting.map((c) => c.detail).join('; '), checks };
  }
  const bakedMs = now.getTime() - Date.parse(rollout.stepStartedAt);
  const weight = rollout.steps[rollout.stepIndex];
  if (bakedMs < rollout.bakeSeconds * 1000) {
    const bake: Check = {
      name: 'bake',
      status: 'wait',
      detail: `healthy at ${weight}%, baked ${Math.floor(bakedMs / 1000)} of ${rollout.bakeSeconds}s`,
    };
    return { action: 'hold', reason: bake.detail, checks: [...checks, bake] };
  }
  const summary = checks.map((c) => c.detail).join('; ');
  return {
    action: 'advance',
    reason: `healthy at ${weight}% for ${rollout.bakeSeconds}s: ${summary}`,
    checks: [...checks, { name: 'bake', status: 'pass', detail: `baked ${rollout.bakeSeconds}s` }],
  };
}

function sampleCheck(window: EvaluationWindow, limits: RolloutThresholds): Check {
  const judged = judgedRequests(window.canary);
  if (judged < limits.minRequests) {
    return {
      name: 'samples',
      status: 'wait',
      detail: `waiting for samples: canary has ${judged} of ${limits.minRequests} requests (4xx excluded)`,
    };
  }
  return { name: 'samples', status: 'pass', detail: `canary ${judged} requests` };
}

const percent = (value: number) => `${(value * 100).toFixed(2)}%`;
const rate = (aggregate: VariantAggregate) => aggregate.serverErrors / Math.max(1, judgedRequests(aggregate));

function errorRatioCheck(window: EvaluationWindow, limits: RolloutThresholds): Check {
  const { canary, primary } = window;
  const nc = judgedRequests(canary);
  const np = judgedRequests(primary);
  const k = canary.serverErrors + primary.serverErrors;
  const describe = `canary errors ${canary.serverErrors}/${nc} (${percent(rate(canary))}) vs primary ${primary.serverErrors}/${np} (${percent(rate(primary))})`;
  // Without primary traffic there is nothing to compare with; the absolute ceiling still applies.
  if (np === 0 || k === 0) return { name: 'errors', status: 'pass', detail: describe };
  const share = (limits.maxErrorRatio * nc) / (limits.maxErrorRatio * nc + np);
  const pValue = binomialUpperTail(canary.serverErrors, k, share);
  if (pValue < limits.significance) {
    return {
      name: 'errors',
      status: 'fail',
      detail: `${describe}: above ${limits.maxErrorRatio}x the primary's rate (p=${pValue.toExponential(1)})`,
    };
  }
  return { name: 'errors', status: 'pass', detail: describe };
}

function errorCeilingCheck(window: EvaluationWindow, limits: RolloutThresholds): Check {
  const { canary, primary } = window;
  const nc = judgedRequests(canary);
  const pValue = binomialUpperTail(canary.serverErrors, nc, limits.maxErrorRate);
  // A primary as bad as the canary means the trouble is shared (the store, the platform): rolling
  // the canary back would not help, so the ceiling only fails a canary that is also the worse one.
  if (pValue < limits.significance && rate(canary) > rate(primary)) {
    return {
      name: 'error-ceiling',
      status: 'fail',
      detail: `canary error rate ${percent(rate(canary))} above the ${percent(limits.maxErrorRate)} ceiling (p=${pValue.toExponential(1)})`,
    };
  }
  return { name: 'error-ceiling', status: 'pass', detail: `ceiling ${percent(limits.maxErrorRate)}` };
}

function latencyCheck(window: EvaluationWindow, limits: RolloutThresholds): Check {
  const canary = window.canary.warmLatency;
  const primary = window.primary.warmLatency;
  const cn = canary?.count ?? 0;
  const pn = primary?.count ?? 0;
  if (
    canary === undefined ||
    primary === undefined ||
    cn < limits.minWarmRequests ||
    pn < limits.minWarmRequests
  ) {
    return {
      name: 'latency',
      status: 'wait',
      detail: `waiting for warm requests: canary ${cn}, primary ${pn} of ${limits.minWarmRequests}`,
    };
  }
  const ratio = canary.p99 / Math.max(primary.p99, 1e-9);
  const detail = `warm p99 ${canary.p99.toFixed(1)} ms vs ${primary.p99.toFixed(1)} ms (${ratio.toFixed(2)}x)`;
  if (ratio > limits.maxP99Ratio) {
    return { name: 'latency', status: 'fail', detail: `${detail}: above ${limits.maxP99Ratio}x` };
  }
  return { name: 'latency', status: 'pass', detail };
}

function accuracyCheck(window: EvaluationWindow, limits: RolloutThresholds): Check | undefined {
  const canary = window.canary.accuracy;
  const primary = window.primary.accuracy;
  if (canary === undefined && primary === undefined) return undefined;
  const cn = canary?.count ?? 0;
  const pn = primary?.count ?? 0;
  if (canary === undefined || primary === undefined || cn < limits.minFeedback || pn < limits.minFeedback) {
    return {
      name: 'accuracy',
      status: 'wait',
      detail: `waiting for feedback: canary ${cn}, primary ${pn} of ${limits.minFeedback}`,
    };
  }
  const ac = canary.correct / cn;
  const ap = primary.correct / pn;
  const se = Math.sqrt((ap * (1 - ap)) / pn + (ac * (1 - ac)) / cn);
  const excess = ap - ac - limits.maxAccuracyDrop - 0.5 * (1 / pn + 1 / cn);
  const pValue = se === 0 ? (excess > 0 ? 0 : 1) : normalUpperTail(excess / se);
  const detail = `accuracy ${percent(ac)} (${cn}) vs ${percent(ap)} (${pn})`;
  if (pValue < limits.significance) {
    return {
      name: 'accuracy',
      status: 'fail',
      detail: `${detail}: more than ${(limits.maxAccuracyDrop * 100).toFixed(1)} points lower (p=${pValue.toExponential(1)})`,
    };
  }
  return { name: 'accuracy', status: 'pass', detail };
}
