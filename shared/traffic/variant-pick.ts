import { createHash } from 'node:crypto';
import {
  type DeploymentConfig,
  pickVariant,
  type StickyConfig,
  type Variant,
} from '../repository/deployment';
import { pointOfDigest, stickyHashInput, stickyKeyValue } from './sticky-hash';

/** What a request is served by, decided before any model is loaded. */
export interface RouteDecision {
  variant: Variant;
  /** true when the variant came from the sticky key's hash rather than a random draw. */
  sticky: boolean;
  /** Set when this request is sampled for the shadow version. */
  shadowVersion?: number;
}

/** The version and variant a request is served by, as the response and metric event name them. */
export interface Target {
  version: number;
  variant: string;
  /** The variant came from the request's sticky key. */
  sticky?: boolean;
  /** This request is sampled to also run on this version, whose result is never returned. */
  shadowVersion?: number;
}

/**
 * A point in [0, 1) fixed by (experiment, key). Sticky routing feeds it to `pickVariant` in place
 * of a random draw: the same key always lands on the same point, so it keeps its variant while the
 * weights stay put, and the last variant (the canary) owns [1 - w, 1), which only grows as w rises.
 */
export function stickyPoint(key: string, experiment: string): number {
  return pointOfDigest(createHash('sha256').update(stickyHashInput(key, experiment)).digest());
}

/**
 * Pure routing decision for one request. `stickyKey` is the request's routing key when the config
 * names one (see `stickyKeyOf`); requests without it fall back to a weighted random pick. The shadow
 * is sampled with its own draw, and only when it would run a different version than the one served.
 */
export function routeRequest(
  config: Pick<DeploymentConfig, 'variants' | 'shadow' | 'sticky'>,
  stickyKey: string | undefined,
  random: () => number,
): RouteDecision {
  const sticky = config.sticky !== undefined && stickyKey !== undefined;
  const point =
    sticky && config.sticky !== undefined ? stickyPoint(stickyKey, config.sticky.experiment) : random();
  const variant = pickVariant(config.variants, point);
  const decision: RouteDecision = { variant, sticky };
  const shadow = config.shadow;
  if (shadow !== undefined && shadow.sampleRate > 0 && shadow.version !== variant.version) {
    if (random() < shadow.sampleRate) decision.shadowVersion = shadow.version;
  }
  return decision;
}

/**
 * The routing key of a request: a header, or a body field found at the top level or inside the
 * request's `parameters` (OIP) or `params` (MLflow). Strings and finite numbers count; anything
 * else (absent, empty, objects) means "no key", which routes at random.
 */
export function stickyKeyOf(
  sticky: StickyConfig | undefined,
  headers: Readonly<Record<string, string>>,
  body: unknown,
): string | undefined {
  if (sticky === undefined) return undefined;
  if (sticky.from === 'header') return stickyKeyValue(headers[sticky.key.toLowerCase()]);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  for (const holder of [record, record['parameters'], record['params']]) {
    if (holder === null || typeof holder !== 'object' || Array.isArray(holder)) continue;
    const key = stickyKeyValue((holder as Record<string, unknown>)[sticky.key]);
    if (key !== undefined) return key;
  }
  return undefined;
}
