import { ROLLOUT_STATES } from './document-constants';
import type { RolloutThresholds } from './schemas';

/**
 * A managed rollout, stored in the stage's deployment config next to the variants it drives, so
 * that every guard (a Lambda, a Cloud Function, a laptop) works from the same state and every
 * change to it goes through the same compare-and-swap as a human's `canary` or `rollback`.
 */

export type { Rollout, RolloutThresholds } from './schemas';

/**
 * Chosen with the seeded simulation (test/rollout/simulation.test.ts, docs/operations.md): 500
 * warm requests put a p99 estimate within about 10% (a 1.5x margin is then > 4 standard errors from
 * a healthy canary), and the 1.5x / 1-point margins keep a healthy canary's real false-alarm
 * chance far below the nominal 1% per look.
 */
export const DEFAULT_THRESHOLDS: RolloutThresholds = {
  minRequests: 500,
  maxErrorRatio: 1.2,
  maxErrorRate: 0.05,
  maxP99Ratio: 1.5,
  minWarmRequests: 500,
  maxAccuracyDrop: 0.01,
  minFeedback: 500,
  significance: 0.01,
};

export { ROLLOUT_STATES };
export type RolloutState = (typeof ROLLOUT_STATES)[number];
/** States in which nothing will change the rollout any more. */
export const FINISHED_STATES: readonly RolloutState[] = ['succeeded', 'rolled-back', 'aborted'];
