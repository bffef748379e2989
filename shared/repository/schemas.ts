/**
 * The zod schemas of the repository's documents: the reference for what a manifest, deployment
 * config or rollout is, and the source of every validation message. They load only when a
 * document fails the hand-written acceptors in ./quick-checks.ts (zod's module and these schemas
 * cost ≈ 25 ms of a cold start), or where a caller asks for them (tests, tools).
 */
import * as z from 'zod';
import { DATATYPES } from '../tensor/datatypes';
import { DEPLOYMENT_SCHEMA, MANIFEST_SCHEMA, ROLLOUT_STATES } from './document-constants';
import { SIGNATURE_ALGORITHM } from './integrity';
import { ARTIFACT_FILE } from './layout';
import { KEY_ID_PATTERN, MODEL_NAME_PATTERN, MODEL_NAME_RULE } from './names';

export const modelNameSchema = z
  .string()
  .regex(MODEL_NAME_PATTERN, MODEL_NAME_RULE)
  .refine((name) => !name.includes('..'), 'must not contain ".."');

export const versionSchema = z.number().int().positive();

/** An Ed25519 signature over the manifest (shared/security/signing.ts, `modelfleet sign`). */
export const attestationSchema = z.strictObject({
  keyId: z.string().regex(KEY_ID_PATTERN, 'must be 1-128 letters, digits, "_", ".", ":" or "-"'),
  algorithm: z.literal(SIGNATURE_ALGORITHM),
  /** base64 of the 64-byte Ed25519 signature over `signedText(manifest)` (./integrity.ts). */
  value: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be a base64 Ed25519 signature'),
});
export type Attestation = z.infer<typeof attestationSchema>;

const tensorSpecSchema = z.strictObject({
  name: z.string().min(1),
  datatype: z.enum(DATATYPES),
  shape: z.array(z.number().int().min(-1)),
});

const sampleTensorSchema = z.looseObject({
  name: z.string().min(1),
  datatype: z.enum(DATATYPES),
  shape: z.array(z.number().int().nonnegative()),
  data: z.array(z.unknown()),
});

const fraction = z.number().min(0).max(1);

/** Baseline statistics of one feature (shared/telemetry/drift.ts computes them). */
const featureBaselineSchema = z.discriminatedUnion('kind', [
  z
    .strictObject({
      kind: z.literal('numeric'),
      edges: z.array(z.number()),
      fractions: z.array(fraction).min(1),
      mean: z.number(),
      min: z.number(),
      max: z.number(),
    })
    .refine((stats) => stats.fractions.length === stats.edges.length + 1, {
      message: 'numeric baselines need one more fraction than edges',
      path: ['fractions'],
    }),
  z.strictObject({ kind: z.literal('categorical'), fractions: z.record(z.string(), fraction) }),
]);

/** What drift is measured against: `modelfleet package --baseline data.csv|jsonl`. */
const baselineSchema = z.strictObject({
  rows: z.number().int().positive(),
  features: z.record(z.string().min(1), featureBaselineSchema),
  prediction: featureBaselineSchema.optional(),
});

export const manifestSchema = z.strictObject({
  schema: z.literal(MANIFEST_SCHEMA),
  name: modelNameSchema,
  version: versionSchema,
  description: z.string().optional(),
  artifact: z.strictObject({
    file: z.literal(ARTIFACT_FILE),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
    bytes: z.number().int().nonnegative(),
  }),
  signature: z.strictObject({
    inputs: z.array(tensorSpecSchema).min(1),
    outputs: z.array(tensorSpecSchema).min(1),
  }),
  /** Column names of a tabular model, in the order of the last axis of its single input. */
  features: z.array(z.string().min(1)).optional(),
  /** A known input and its expected outputs: used for warm-up, smoke tests and readiness. */
  sample: z
    .strictObject({
      inputs: z.array(sampleTensorSchema).min(1),
      outputs: z.array(sampleTensorSchema).min(1),
      tolerance: z.number().nonnegative(),
    })
    .optional(),
  metrics: z.record(z.string(), z.number()).optional(),
  /** Optional: manifests written before drift monitoring parse unchanged. */
  baseline: baselineSchema.optional(),
  source: z.record(z.string(), z.string()).optional(),
  createdAt: z.iso.datetime(),
  /** Optional Ed25519 signature over the manifest (shared/security/signing.ts, `modelfleet sign`). */
  attestation: attestationSchema.optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;

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

const variantSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be 1-32 lower-case letters, digits, "_" or "-"'),
  version: versionSchema,
  weight: z.number().int().min(0).max(100),
});

const historyEntrySchema = z.strictObject({
  at: z.iso.datetime(),
  action: z.string().min(1),
  variants: z.array(variantSchema),
  actor: z.string().optional(),
  reason: z.string().optional(),
});

/** A version that sees a sample of the traffic's inputs; its results are compared, never returned. */
const shadowSchema = z.strictObject({
  version: versionSchema,
  /** Fraction of routed requests that are also run on the shadow, in [0, 1]. */
  sampleRate: z.number().min(0).max(1),
});

/**
 * Sticky cohorts: the variant is chosen by hashing the request's key with the experiment id, so a
 * key keeps its variant for as long as the weights do not move it (and a growing last variant,
 * the canary, only ever gains keys).
 */
const stickySchema = z.strictObject({
  /** Where the key is read: a request header, or a field of the JSON body (top level or parameters). */
  from: z.enum(['header', 'field']),
  /** Header name (matched case-insensitively) or body field name, e.g. `x-user-id` or `user_id`. */
  key: z.string().min(1).max(128),
  /** Changing it reshuffles every key, so a new experiment starts from fresh cohorts. */
  experiment: z.string().min(1).max(128),
});

export const deploymentSchema = z
  .strictObject({
    schema: z.literal(DEPLOYMENT_SCHEMA),
    model: modelNameSchema,
    stage: z.string().min(1),
    variants: z.array(variantSchema).min(1),
    /** The variants that last served without being rolled back; `rollback` restores them. */
    lastKnownGood: z.array(variantSchema).optional(),
    shadow: shadowSchema.optional(),
    sticky: stickySchema.optional(),
    /** A managed rollout (shared/repository/rollout.ts): the guard moves the canary by it. */
    rollout: rolloutSchema.optional(),
    history: z.array(historyEntrySchema),
    updatedAt: z.iso.datetime(),
  })
  .superRefine((config, ctx) => {
    const total = config.variants.reduce((sum, variant) => sum + variant.weight, 0);
    if (total !== 100) {
      ctx.addIssue({ code: 'custom', path: ['variants'], message: `weights must sum to 100, got ${total}` });
    }
    const names = new Set<string>();
    config.variants.forEach((variant, index) => {
      if (names.has(variant.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['variants', index, 'name'],
          message: `duplicate variant "${variant.name}"`,
        });
      }
      names.add(variant.name);
    });
  });

export type DeploymentConfig = z.infer<typeof deploymentSchema>;
