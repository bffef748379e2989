import { DEPLOYMENT_SCHEMA } from './document-constants';
import { isDeploymentConfig } from './quick-checks';
import { FINISHED_STATES, type Rollout } from './rollout-plan';
import type { DeploymentConfig } from './schemas';
import { parseChecked } from './validation';

export { DEPLOYMENT_SCHEMA };
export const HISTORY_LIMIT = 100;

export type { DeploymentConfig } from './schemas';
export type Variant = DeploymentConfig['variants'][number];
export type ShadowConfig = NonNullable<DeploymentConfig['shadow']>;
export type StickyConfig = NonNullable<DeploymentConfig['sticky']>;

export class DeploymentConfigError extends Error {
  override name = 'DeploymentConfigError';
}

export function parseDeployment(value: unknown, where: string): DeploymentConfig {
  return parseChecked(
    value,
    isDeploymentConfig,
    () => (require('./schemas') as typeof import('./schemas')).deploymentSchema,
    (message) => new DeploymentConfigError(`${where}: ${message}`),
  );
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

/** A requested change that makes no sense for the current config (nothing to roll back to, …). */
export class DeploymentChangeError extends Error {
  override name = 'DeploymentChangeError';
}

export const PRIMARY = 'primary';
export const CANARY = 'canary';

/** Every version a config makes the platform load: the variants and the shadow. */
export function deployedVersions(config: DeploymentConfig): number[] {
  const versions = new Set(config.variants.map((variant) => variant.version));
  if (config.shadow !== undefined) versions.add(config.shadow.version);
  return [...versions];
}

/**
 * The variants to fall back to. A config with a single variant is itself stable; one in the middle
 * of a canary (even at 100%) or an A/B test is not, and keeps pointing at what served before it.
 */
function stableVariants(current: DeploymentConfig): Variant[] {
  const [only] = current.variants;
  if (current.variants.length === 1 && only !== undefined) return [{ ...only, name: PRIMARY, weight: 100 }];
  if (current.lastKnownGood !== undefined) return current.lastKnownGood;
  return [{ name: PRIMARY, version: primaryOf(current).version, weight: 100 }];
}

export function primaryOf(config: DeploymentConfig): Variant {
  const primary = config.variants.find((variant) => variant.name === PRIMARY) ?? config.variants[0];
  if (primary === undefined) throw new DeploymentChangeError('the deployment has no variants');
  return primary;
}

export function record(
  current: DeploymentConfig,
  next: Omit<DeploymentConfig, 'history' | 'updatedAt' | 'schema' | 'model' | 'stage'>,
  action: string,
  now: Date,
  actor: string | undefined,
  reason?: string,
): DeploymentConfig {
  const entry = {
    at: now.toISOString(),
    action,
    variants: next.variants,
    ...(actor === undefined ? {} : { actor }),
    ...(reason === undefined ? {} : { reason }),
  };
  return {
    schema: DEPLOYMENT_SCHEMA,
    model: current.model,
    stage: current.stage,
    ...next,
    history: [...current.history, entry].slice(-HISTORY_LIMIT),
    updatedAt: now.toISOString(),
  };
}

function requireDeployed(current: DeploymentConfig | undefined, what: string): DeploymentConfig {
  if (current === undefined) {
    throw new DeploymentChangeError(
      `${what}: the model is not deployed on this stage; promote a version first`,
    );
  }
  return current;
}

/**
 * Optional parts of a config, without the keys that are undefined (the schema is strict). A
 * rollout is carried only when given: the traffic changes below replace it (see `cancelNote`).
 */
export function extras(config: {
  lastKnownGood?: Variant[] | undefined;
  shadow?: ShadowConfig | undefined;
  sticky?: StickyConfig | undefined;
  rollout?: Rollout | undefined;
}) {
  return {
    ...(config.lastKnownGood === undefined ? {} : { lastKnownGood: config.lastKnownGood }),
    ...(config.shadow === undefined ? {} : { shadow: config.shadow }),
    ...(config.sticky === undefined ? {} : { sticky: config.sticky }),
    ...(config.rollout === undefined ? {} : { rollout: config.rollout }),
  };
}

/**
 * A person's `promote`, `canary`, `split` or `rollback` takes the traffic out of a managed
 * rollout's hands: the rollout is dropped from the config and the history says so, so a guard
 * never fights the change. A finished rollout is dropped silently.
 */
export function cancelNote(config: DeploymentConfig | undefined): string | undefined {
  const rollout = config?.rollout;
  if (rollout === undefined || FINISHED_STATES.includes(rollout.state)) return undefined;
  return `cancels the ${rollout.state} rollout of version ${rollout.version}`;
}

/** The config after sending 100% of traffic to `version` (a blue-green switch). */
export function promote(
  current: DeploymentConfig | undefined,
  target: { model: string; stage: string; version: number },
  now: Date,
  actor?: string,
): DeploymentConfig {
  const variants: Variant[] = [{ name: PRIMARY, version: target.version, weight: 100 }];
  const base: DeploymentConfig = current ?? {
    schema: DEPLOYMENT_SCHEMA,
    model: target.model,
    stage: target.stage,
    variants,
    history: [],
    updatedAt: now.toISOString(),
  };
  return record(
    { ...base, model: target.model, stage: target.stage },
    {
      variants,
      ...extras({
        lastKnownGood: current === undefined ? undefined : stableVariants(current),
        // Shadowing the version that now serves everything would compare it with itself.
        shadow: current?.shadow?.version === target.version ? undefined : current?.shadow,
        sticky: current?.sticky,
      }),
    },
    `promote ${target.version}`,
    now,
    actor,
    cancelNote(current),
  );
}

/**
 * Sends `weight`% of traffic to `version` as the canary; the primary gives up the difference and
 * any other variants keep theirs. The canary is always the last variant, so that under sticky
 * routing it owns the top slice of the hash range and raising its weight only adds keys to it.
 * Weight 0 removes the canary. The variants from before the canary began stay `lastKnownGood`.
 */
export function setCanary(
  current: DeploymentConfig | undefined,
  version: number,
  weight: number,
  now: Date,
  actor?: string,
): DeploymentConfig {
  const config = requireDeployed(current, `canary ${version}`);
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
    throw new DeploymentChangeError(`canary weight: expected an integer from 0 to 100, got ${weight}`);
  }
  const primary = primaryOf(config);
  if (primary.version === version && weight > 0) {
    throw new DeploymentChangeError(`version ${version} is already the primary; canary another version`);
  }
  const others = config.variants.filter((variant) => variant !== primary && variant.name !== CANARY);
  const othersWeight = others.reduce((sum, variant) => sum + variant.weight, 0);
  const primaryWeight = 100 - weight - othersWeight;
  if (primaryWeight < 0) {
    throw new DeploymentChangeError(
      `canary weight ${weight}: the other variants (${others.map((v) => `${v.name} ${v.weight}%`).join(', ')}) leave only ${100 - othersWeight}%`,
    );
  }
  const variants: Variant[] = [
    { ...primary, weight: primaryWeight },
    ...others,
    ...(weight > 0 ? [{ name: CANARY, version, weight }] : []),
  ];
  return record(
    config,
    { variants, ...extras({ ...config, lastKnownGood: stableVariants(config), rollout: undefined }) },
    weight > 0 ? `canary ${version} at ${weight}%` : `canary removed`,
    now,
    actor,
    cancelNote(config),
  );
}

/**
 * Restores `lastKnownGood` at once (the instant rollback of a blue-green switch or a canary).
 * The shadow and sticky settings stay: they do not change what clients are served.
 */
export function rollback(current: DeploymentConfig | undefined, now: Date, actor?: string): DeploymentConfig {
  const config = requireDeployed(current, 'rollback');
  const target = config.lastKnownGood;
  if (target === undefined || target.length === 0) {
    throw new DeploymentChangeError('rollback: there is no lastKnownGood to return to');
  }
  const describe = (variants: readonly Variant[]) =>
    variants.map((v) => `${v.name}=${v.version}:${v.weight}`).join(',');
  if (describe(target) === describe(config.variants)) {
    throw new DeploymentChangeError(`rollback: the stage already serves lastKnownGood (${describe(target)})`);
  }
  return record(
    config,
    { variants: target, ...extras({ ...config, lastKnownGood: target, rollout: undefined }) },
    `rollback to ${describe(target)}`,
    now,
    actor,
    cancelNote(config),
  );
}

/** Runs a sample (`rate` in [0, 1]) of requests on `version` too; `version` undefined clears it. */
export function setShadow(
  current: DeploymentConfig | undefined,
  shadow: ShadowConfig | undefined,
  now: Date,
  actor?: string,
): DeploymentConfig {
  const config = requireDeployed(current, 'shadow');
  if (shadow !== undefined && !(shadow.sampleRate >= 0 && shadow.sampleRate <= 1)) {
    throw new DeploymentChangeError(`shadow rate: expected a number from 0 to 1, got ${shadow.sampleRate}`);
  }
  if (shadow === undefined && config.shadow === undefined) {
    throw new DeploymentChangeError('shadow: no shadow is configured');
  }
  return record(
    config,
    { variants: config.variants, ...extras({ ...config, shadow }) },
    shadow === undefined ? 'shadow off' : `shadow ${shadow.version} at ${shadow.sampleRate}`,
    now,
    actor,
  );
}

/**
 * An A/B/n split: the given variants replace the current ones (schema validation then checks the
 * weights sum to 100 and the names are unique). Under sticky routing, list the variant that will
 * grow last: only the last variant's cohort is stable as weights move.
 */
export function setVariants(
  current: DeploymentConfig | undefined,
  variants: Variant[],
  now: Date,
  actor?: string,
): DeploymentConfig {
  const config = requireDeployed(current, 'split');
  if (variants.length === 0) throw new DeploymentChangeError('split: give at least one variant');
  return record(
    config,
    { variants, ...extras({ ...config, lastKnownGood: stableVariants(config), rollout: undefined }) },
    `split ${variants.map((v) => `${v.name}=${v.version}:${v.weight}`).join(',')}`,
    now,
    actor,
    cancelNote(config),
  );
}

/** Turns sticky cohorts on (or off, with undefined). */
export function setSticky(
  current: DeploymentConfig | undefined,
  sticky: StickyConfig | undefined,
  now: Date,
  actor?: string,
): DeploymentConfig {
  const config = requireDeployed(current, 'sticky');
  return record(
    config,
    { variants: config.variants, ...extras({ ...config, sticky }) },
    sticky === undefined ? 'sticky off' : `sticky by ${sticky.from} ${sticky.key} (${sticky.experiment})`,
    now,
    actor,
  );
}
