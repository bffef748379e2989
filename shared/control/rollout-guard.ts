import { CANARY, type DeploymentConfig, PRIMARY } from '../repository/deployment';
import type { ModelRepository } from '../repository/repository';
import { advanceRollout, rollBackRollout, StaleVerdictError } from '../repository/rollout';
import type { Rollout } from '../repository/rollout-plan';
import type { EvaluationWindow, MetricSource } from './rollout-metrics';
import { decideRollout, type Verdict } from './rollout-verdict';

/**
 * The executor: reads a stage's rollout, asks the metric source for the step's window, decides
 * with the pure `decideRollout`, and writes an advance or a rollback by compare-and-swap. It holds
 * no state of its own, so any number of guards may run at once (a schedule, an alarm, a laptop):
 * the write names the rollout and step it judged, and when the config has moved on meanwhile
 * (another guard, a person) the write is refused and the guard only reports it.
 */

export interface GuardDependencies {
  repository: ModelRepository;
  source: MetricSource;
  now?: () => Date;
  /** Recorded in the history of each change, e.g. `guard:aws-lambda`. */
  actor: string;
}

export type GuardAction = 'none' | 'hold' | 'advance' | 'rollback' | 'stale';

export interface GuardOutcome {
  model: string;
  stage: string;
  action: GuardAction;
  reason: string;
  rolloutId?: string;
  /** The canary weight before (and, for advance/rollback, after) the guard ran. */
  weight?: number;
  nextWeight?: number;
  verdict?: Verdict;
  window?: EvaluationWindow;
}

export async function guardRollout(
  deps: GuardDependencies,
  model: string,
  stage: string,
): Promise<GuardOutcome> {
  const now = (deps.now ?? (() => new Date()))();
  const read = await deps.repository.readDeployment(model, stage);
  if (read.status !== 'ok') return { model, stage, action: 'none', reason: 'not deployed on this stage' };
  const rollout = read.config.rollout;
  if (rollout === undefined) return { model, stage, action: 'none', reason: 'no rollout' };
  if (rollout.state !== 'progressing') {
    // A paused rollout is still the stage's business (guardStage reports it); a finished one is not.
    const id = rollout.state === 'paused' ? { rolloutId: rollout.id } : {};
    return { model, stage, action: 'none', reason: `rollout ${rollout.state}`, ...id };
  }
  const sides = sidesOf(read.config, rollout);
  const base = { model, stage, rolloutId: rollout.id, weight: rollout.steps[rollout.stepIndex] ?? 0 };
  if (sides === undefined) {
    return { ...base, action: 'none', reason: 'the variants no longer match the rollout (changed by hand)' };
  }
  const window = await deps.source.window({
    model,
    stage,
    ...sides,
    start: new Date(rollout.stepStartedAt),
    end: now,
  });
  const verdict = decideRollout(rollout, window, now);
  if (verdict.action === 'hold') return { ...base, action: 'hold', reason: verdict.reason, verdict, window };
  const target = { rolloutId: rollout.id, stepIndex: rollout.stepIndex };
  try {
    const written = await deps.repository.updateDeployment(model, stage, (current) =>
      verdict.action === 'advance'
        ? advanceRollout(current, target, now, deps.actor, verdict.reason)
        : rollBackRollout(current, target, now, deps.actor, verdict.reason),
    );
    const canary = written.variants.find((v) => v.name === CANARY)?.weight ?? 0;
    const nextWeight = written.rollout?.state === 'succeeded' ? 100 : canary;
    return { ...base, action: verdict.action, reason: verdict.reason, nextWeight, verdict, window };
  } catch (err) {
    if (!(err instanceof StaleVerdictError)) throw err;
    return { ...base, action: 'stale', reason: `not applied: ${err.message}`, verdict, window };
  }
}

/** Every model of the repository that has a rollout in progress on the stage. */
export async function guardStage(deps: GuardDependencies, stage: string): Promise<GuardOutcome[]> {
  const outcomes: GuardOutcome[] = [];
  for (const model of await deps.repository.listModels()) {
    const outcome = await guardRollout(deps, model, stage);
    if (outcome.action !== 'none' || outcome.rolloutId !== undefined) outcomes.push(outcome);
  }
  return outcomes;
}

function sidesOf(config: DeploymentConfig, rollout: Rollout) {
  const canary = config.variants.find((v) => v.name === CANARY && v.version === rollout.version);
  const primary = config.variants.find((v) => v.name === PRIMARY);
  if (canary === undefined || primary === undefined) return undefined;
  return {
    primary: { variant: primary.name, version: primary.version },
    canary: { variant: canary.name, version: canary.version },
  };
}

/** One line a person can read in a timeline or a log. */
export function describeOutcome(outcome: GuardOutcome): string {
  const where = `${outcome.model}@${outcome.stage}`;
  switch (outcome.action) {
    case 'advance':
      return outcome.nextWeight === 100
        ? `${where}: promoted (100%) — ${outcome.reason}`
        : `${where}: advanced ${outcome.weight}% → ${outcome.nextWeight}% — ${outcome.reason}`;
    case 'rollback':
      return `${where}: ROLLED BACK at ${outcome.weight}% — ${outcome.reason}`;
    case 'hold':
      return `${where}: holding at ${outcome.weight}% — ${outcome.reason}`;
    case 'stale':
      return `${where}: ${outcome.reason}`;
    default:
      return `${where}: ${outcome.reason}`;
  }
}
