import * as z from 'zod';
import { versionSchema } from './manifest';

/**
 * A managed rollout, stored in the stage's deployment config next to the variants it drives, so
 * that every guard (a Lambda, a Cloud Function, a laptop) works from the same state and every
 * change to it goes through the same compare-and-swap as a human's `canary` or `rollback`.
 */

/** What the guard judges the canary by. Every field is filled in when the rollout starts. */
export const rolloutThresholdsSchema = z.strictObject({
  /** No verdict before the canary has this many judged (non-4xx) requests in the step's window. */
  minRequests: z.number().int().min(1),
  /**
   * The canary's server-error rate may be up to this many times the primary's before the test
   * asks whether it is significantly worse (a margin, so a 1.1x blip is not a rollback).
   */
  maxErrorRatio: z.number().min(1).max(100),
  /** Absolute ceiling on the canary's server-error rate in [0, 1] (an SLO), judged the same way. */
  maxErrorRate: z.number().min(0).max(1),
  /** Canary warm p99 over primary warm p99 above which the canary is too slow. */
  maxP99Ratio: z.number().min(1).max(100),
  /** No latency verdict before each variant has this many warm requests. */
  minWarmRequests: z.number().int().min(1),
  /** Points of accuracy (fraction in [0, 1]) the canary may lose before the test applies. */
  maxAccuracyDrop: z.number().min(0).max(1),
  /** No accuracy verdict before each variant has this much feedback. */
  minFeedback: z.number().int().min(1),
  /** One-sided significance level of each test: the chance a healthy canary fails one look. */
  significance: z.number().gt(0).max(0.2),
});

export type RolloutThresholds = z.infer<typeof rolloutThresholdsSchema>;

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

export const ROLLOUT_STATES = ['progressing', 'paused', 'succeeded', 'rolled-back', 'aborted'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];
/** States in which nothing will change the rollout any more. */
export const FINISHED_STATES: readonly RolloutState[] = ['succeeded', 'rolled-back', 'aborted'];

export const rolloutSchema = z
  .strictObject({
    /** Unique per rollout: a guard's verdict applies only to the rollout (and step) it judged. */
    id: z.string().min(1).max(128),
    version: versionSchema,
    /** Canary weights in %, strictly increasing, ending at 100 (which is the promotion). */
    steps: z.array(z.number().int().min(1).max(100)).min(1).max(20),
    /** How long each step must run healthy before the next one. */
    bakeSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 24 * 3600),
    thresholds: rolloutThresholdsSchema,
    state: z.enum(ROLLOUT_STATES),
    stepIndex: z.number().int().min(0),
    startedAt: z.iso.datetime(),
    /** When the current step's window opened: its bake and its metrics start here. */
    stepStartedAt: z.iso.datetime(),
    endedAt: z.iso.datetime().optional(),
    /** Who or what made the last change, and why (the guard's verdict reason, a person's note). */
    actor: z.string().optional(),
    reason: z.string().optional(),
  })
  .superRefine((rollout, ctx) => {
    rollout.steps.forEach((step, index) => {
      const previous = rollout.steps[index - 1];
      if (previous !== undefined && step <= previous) {
        ctx.addIssue({
          code: 'custom',
          path: ['steps', index],
          message: `steps must increase, got ${step} after ${previous}`,
        });
      }
    });
    if (rollout.steps.at(-1) !== 100) {
      ctx.addIssue({ code: 'custom', path: ['steps'], message: 'the last step must be 100' });
    }
    if (rollout.stepIndex >= rollout.steps.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['stepIndex'],
        message: `must be below the ${rollout.steps.length} steps, got ${rollout.stepIndex}`,
      });
    }
  });

export type Rollout = z.infer<typeof rolloutSchema>;
