import {
  CANARY,
  DeploymentChangeError,
  type DeploymentConfig,
  extras,
  PRIMARY,
  promote,
  record,
  setCanary,
  type Variant,
} from './deployment';
import { DEFAULT_THRESHOLDS, FINISHED_STATES, type Rollout, type RolloutThresholds } from './rollout-plan';

/**
 * Pure transforms of a deployment config for a managed rollout. Each is meant to run inside
 * `ModelRepository.updateDeployment`, so it sees fresh state on every compare-and-swap retry; the
 * ones the guard calls carry the rollout id and step the verdict was made for, and refuse with a
 * `StaleVerdictError` when the config has moved on (another guard advanced it, a person paused,
 * aborted or replaced it): the later writer wins and the guard only re-reads.
 */

export interface RolloutPlan {
  version: number;
  steps: number[];
  bakeSeconds: number;
  thresholds?: Partial<RolloutThresholds>;
}

/** What a guard's verdict was made for: it applies to this rollout at this step only. */
export interface VerdictTarget {
  rolloutId: string;
  stepIndex: number;
}

/** The config changed between a guard's evaluation and its write; nothing was written. */
export class StaleVerdictError extends Error {
  override name = 'StaleVerdictError';
}

export function isActive(rollout: Rollout | undefined): rollout is Rollout {
  return rollout !== undefined && !FINISHED_STATES.includes(rollout.state);
}

/** Starts a rollout: the canary at the first step, the rest of the plan stored beside it. */
export function startRollout(
  current: DeploymentConfig | undefined,
  plan: RolloutPlan,
  now: Date,
  actor: string,
): DeploymentConfig {
  if (current !== undefined && isActive(current.rollout)) {
    throw new DeploymentChangeError(
      `rollout ${plan.version}: the rollout of version ${current.rollout.version} is ${current.rollout.state}; abort it first`,
    );
  }
  const first = plan.steps[0];
  if (first === undefined) throw new DeploymentChangeError('rollout: give at least one step');
  const at = now.toISOString();
  const rollout: Rollout = {
    id: `${plan.version}@${at}`,
    version: plan.version,
    steps: plan.steps,
    bakeSeconds: plan.bakeSeconds,
    thresholds: { ...DEFAULT_THRESHOLDS, ...plan.thresholds },
    state: 'progressing',
    stepIndex: 0,
    startedAt: at,
    stepStartedAt: at,
    actor,
  };
  if (first === 100) {
    // A one-step plan is a blue-green switch that the guard still watches for nothing: refuse it.
    throw new DeploymentChangeError('rollout: the first step must be below 100 (use promote for 100%)');
  }
  const canary = setCanary(current, plan.version, first, now, actor);
  // setCanary refused an undeployed stage, so `current` is a config; its history gets one entry.
  return record(
    current as DeploymentConfig,
    { variants: canary.variants, ...extras({ ...canary, rollout }) },
    `rollout ${plan.version} started at ${first}% (steps ${plan.steps.join(',')}, bake ${plan.bakeSeconds}s)`,
    now,
    actor,
    undefined,
  );
}

function activeRollout(config: DeploymentConfig | undefined, what: string): [DeploymentConfig, Rollout] {
  if (config === undefined || !isActive(config.rollout)) {
    throw new DeploymentChangeError(`${what}: no rollout is in progress on this stage`);
  }
  return [config, config.rollout];
}

/** Checks the verdict still applies: same rollout, same step, still progressing. */
function expectTarget(
  config: DeploymentConfig | undefined,
  target: VerdictTarget,
): [DeploymentConfig, Rollout] {
  const rollout = config?.rollout;
  if (config === undefined || rollout === undefined || rollout.id !== target.rolloutId) {
    throw new StaleVerdictError(`rollout ${target.rolloutId} is no longer the stage's rollout`);
  }
  if (rollout.state !== 'progressing') {
    throw new StaleVerdictError(`rollout ${target.rolloutId} is ${rollout.state}`);
  }
  if (rollout.stepIndex !== target.stepIndex) {
    throw new StaleVerdictError(
      `rollout ${target.rolloutId} moved from step ${target.stepIndex} to ${rollout.stepIndex}`,
    );
  }
  return [config, rollout];
}

/** The next step, or the promotion when the next step is 100%. */
export function advanceRollout(
  current: DeploymentConfig | undefined,
  target: VerdictTarget,
  now: Date,
  actor: string,
  reason: string,
): DeploymentConfig {
  const [config, rollout] = expectTarget(current, target);
  const stepIndex = rollout.stepIndex + 1;
  const weight = rollout.steps[stepIndex];
  if (weight === undefined) throw new StaleVerdictError(`rollout ${rollout.id} has no step ${stepIndex}`);
  const at = now.toISOString();
  const moved = { ...rollout, stepIndex, stepStartedAt: at, actor, reason };
  if (weight === 100) {
    const promoted = promote(
      config,
      { model: config.model, stage: config.stage, version: rollout.version },
      now,
    );
    const done: Rollout = { ...moved, state: 'succeeded', endedAt: at };
    return record(
      config,
      { variants: promoted.variants, ...extras({ ...promoted, rollout: done }) },
      `rollout ${rollout.version} promoted to 100%`,
      now,
      actor,
      reason,
    );
  }
  const canary = setCanary(config, rollout.version, weight, now, actor);
  return record(
    config,
    { variants: canary.variants, ...extras({ ...canary, rollout: moved }) },
    `rollout ${rollout.version} advanced to ${weight}%`,
    now,
    actor,
    reason,
  );
}

/** Restores what served before the rollout; `aborted` when a person asked, else `rolled-back`. */
function backOut(
  config: DeploymentConfig,
  rollout: Rollout,
  state: 'rolled-back' | 'aborted',
  now: Date,
  actor: string,
  reason: string,
): DeploymentConfig {
  const stable = stableOf(config, rollout);
  const at = now.toISOString();
  const ended: Rollout = { ...rollout, state, endedAt: at, actor, reason };
  return record(
    config,
    { variants: stable, ...extras({ ...config, lastKnownGood: stable, rollout: ended }) },
    `rollout ${rollout.version} ${state === 'aborted' ? 'aborted' : 'rolled back'} to ${stable.map((v) => `${v.name}=${v.version}:${v.weight}`).join(',')}`,
    now,
    actor,
    reason,
  );
}

/** lastKnownGood, or else every variant but the canary with the canary's share on the primary. */
function stableOf(config: DeploymentConfig, rollout: Rollout): Variant[] {
  if (config.lastKnownGood !== undefined && config.lastKnownGood.length > 0) return config.lastKnownGood;
  const canaryWeight = config.variants.find((v) => v.name === CANARY)?.weight ?? 0;
  const rest = config.variants.filter((v) => v.name !== CANARY && v.version !== rollout.version);
  return rest.map((v) => (v.name === PRIMARY ? { ...v, weight: v.weight + canaryWeight } : v));
}

export function rollBackRollout(
  current: DeploymentConfig | undefined,
  target: VerdictTarget,
  now: Date,
  actor: string,
  reason: string,
): DeploymentConfig {
  const [config, rollout] = expectTarget(current, target);
  return backOut(config, rollout, 'rolled-back', now, actor, reason);
}

/** A person's abort: the same instant rollback, from either progressing or paused. */
export function abortRollout(
  current: DeploymentConfig | undefined,
  now: Date,
  actor: string,
  reason = 'aborted by hand',
): DeploymentConfig {
  const [config, rollout] = activeRollout(current, 'abort');
  return backOut(config, rollout, 'aborted', now, actor, reason);
}

/** The canary keeps its weight and the guard stops judging it until `resume`. */
export function pauseRollout(
  current: DeploymentConfig | undefined,
  now: Date,
  actor: string,
  reason = 'paused by hand',
): DeploymentConfig {
  const [config, rollout] = activeRollout(current, 'pause');
  if (rollout.state === 'paused') throw new DeploymentChangeError('pause: the rollout is already paused');
  return record(
    config,
    {
      variants: config.variants,
      ...extras({ ...config, rollout: { ...rollout, state: 'paused', actor, reason } }),
    },
    `rollout ${rollout.version} paused at ${rollout.steps[rollout.stepIndex]}%`,
    now,
    actor,
    reason,
  );
}

/** Resumes judging; the step's bake starts over, since nobody watched the paused time. */
export function resumeRollout(
  current: DeploymentConfig | undefined,
  now: Date,
  actor: string,
  reason = 'resumed by hand',
): DeploymentConfig {
  const [config, rollout] = activeRollout(current, 'resume');
  if (rollout.state !== 'paused') throw new DeploymentChangeError('resume: the rollout is not paused');
  const resumed: Rollout = {
    ...rollout,
    state: 'progressing',
    stepStartedAt: now.toISOString(),
    actor,
    reason,
  };
  return record(
    config,
    { variants: config.variants, ...extras({ ...config, rollout: resumed }) },
    `rollout ${rollout.version} resumed at ${rollout.steps[rollout.stepIndex]}%`,
    now,
    actor,
    reason,
  );
}

/** The canary weight of the rollout's current step. */
export function currentWeight(rollout: Rollout): number {
  return rollout.steps[rollout.stepIndex] ?? 0;
}
