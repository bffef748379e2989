import { z } from 'zod';
import { modelNameSchema, versionSchema } from './manifest';
import { parseWith } from './validation';

export const DEPLOYMENT_SCHEMA = 'modelfleet/deployment@1';
export const HISTORY_LIMIT = 100;

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

export const deploymentSchema = z
  .strictObject({
    schema: z.literal(DEPLOYMENT_SCHEMA),
    model: modelNameSchema,
    stage: z.string().min(1),
    variants: z.array(variantSchema).min(1),
    /** The variants that last served without being rolled back; `rollback` restores them. */
    lastKnownGood: z.array(variantSchema).optional(),
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
export type Variant = DeploymentConfig['variants'][number];

export class DeploymentConfigError extends Error {
  override name = 'DeploymentConfigError';
}

export function parseDeployment(value: unknown, where: string): DeploymentConfig {
  return parseWith(deploymentSchema, value, (message) => new DeploymentConfigError(`${where}: ${message}`));
}

/**
 * Weighted pick over variants. `random` is in [0, 1); weights need not sum to 100 (a config is
 * validated to, but the pick stays total even if they do not) and zero-weight variants never win.
 */
export function pickVariant(variants: readonly Variant[], random: number): Variant {
  const total = variants.reduce((sum, variant) => sum + Math.max(0, variant.weight), 0);
  const first = variants[0];
  if (first === undefined) throw new Error('pickVariant needs at least one variant');
  if (total <= 0) return first;
  let remaining = Math.min(Math.max(random, 0), 1) * total;
  let last = first;
  for (const variant of variants) {
    if (variant.weight <= 0) continue;
    last = variant;
    if (remaining < variant.weight) return variant;
    remaining -= variant.weight;
  }
  return last;
}

/** The config after sending 100% of traffic to `version` (a blue-green switch). */
export function promote(
  current: DeploymentConfig | undefined,
  target: { model: string; stage: string; version: number },
  now: Date,
  actor?: string,
): DeploymentConfig {
  const variants: Variant[] = [{ name: 'primary', version: target.version, weight: 100 }];
  const entry = {
    at: now.toISOString(),
    action: `promote ${target.version}`,
    variants,
    ...(actor === undefined ? {} : { actor }),
  };
  return {
    schema: DEPLOYMENT_SCHEMA,
    model: target.model,
    stage: target.stage,
    variants,
    ...(current === undefined ? {} : { lastKnownGood: current.variants }),
    history: [...(current?.history ?? []), entry].slice(-HISTORY_LIMIT),
    updatedAt: now.toISOString(),
  };
}
