import * as z from 'zod';
import { DATATYPES } from '../tensor/datatypes';
import { SIGNATURE_ALGORITHM } from './integrity';
import { KEY_ID_PATTERN, MODEL_NAME_PATTERN, MODEL_NAME_RULE } from './names';
import { parseWith } from './validation';

export const MANIFEST_SCHEMA = 'modelfleet/manifest@1';
export { SIGNATURE_ALGORITHM };

import { ARTIFACT_FILE } from './layout';

export { ARTIFACT_FILE, MANIFEST_FILE } from './layout';

export { MODEL_NAME_PATTERN } from './names';

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
export type ManifestSample = NonNullable<Manifest['sample']>;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export function parseManifest(value: unknown, where: string): Manifest {
  return parseWith(
    manifestSchema,
    value,
    (message) => new ManifestError(`${where}: invalid manifest: ${message}`),
  );
}
