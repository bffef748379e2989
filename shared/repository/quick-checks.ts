import { DATATYPES } from '../tensor/datatypes';
import { DEPLOYMENT_SCHEMA, MANIFEST_SCHEMA, ROLLOUT_STATES } from './document-constants';
import { SIGNATURE_ALGORITHM } from './integrity';
import { ARTIFACT_FILE } from './layout';
import { KEY_ID_PATTERN, MODEL_NAME_PATTERN } from './names';
import type { DeploymentConfig, Manifest } from './schemas';

/**
 * Hand-written acceptors for the documents the cold start parses (every deployment config and
 * manifest of the stage), so that a valid document never loads zod (≈ 25 ms of module load and
 * schema construction). Each says only "certainly valid": it checks the same rules as the zod
 * schema in ./schemas.ts, and refuses anything it is not sure of (a key present with the value
 * undefined, a prototype-named record key, a non-plain object), which then goes to zod for its
 * verdict and message. test/core/quick-checks.test.ts holds them to that on generated documents.
 */

type Check = (value: unknown) => boolean;

const DATATYPE_SET: ReadonlySet<string> = new Set(DATATYPES);
const ROLLOUT_STATE_SET: ReadonlySet<string> = new Set(ROLLOUT_STATES);

// zod's `z.iso.datetime()` with its defaults: a calendar-valid date, seconds, optional fraction, Z.
const DATE_TIME =
  /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const SIGNATURE_VALUE = /^[A-Za-z0-9+/]{86}==$/;
const VARIANT_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  // Object.prototype of this realm or another (structuredClone, a vm context), or none.
  const proto = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
};

const string: Check = (v) => typeof v === 'string';
const nonEmpty: Check = (v) => typeof v === 'string' && v.length > 0;
const number: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const int = (min: number, max = Number.MAX_SAFE_INTEGER): Check => {
  return (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
};
const between =
  (min: number, max: number): Check =>
  (v) =>
    number(v) && (v as number) >= min && (v as number) <= max;
const fraction = between(0, 1);
const literal =
  (expected: unknown): Check =>
  (v) =>
    v === expected;
const matches =
  (pattern: RegExp): Check =>
  (v) =>
    typeof v === 'string' && pattern.test(v);
const dateTime = matches(DATE_TIME);
const oneOf =
  (set: ReadonlySet<string>): Check =>
  (v) =>
    typeof v === 'string' && set.has(v);

function array(item: Check, min = 0, max = Number.POSITIVE_INFINITY): Check {
  return (v) => {
    if (!Array.isArray(v) || v.length < min || v.length > max) return false;
    for (let i = 0; i < v.length; i++) if (!item(v[i])) return false;
    return true;
  };
}

/** A strict object: the required keys present, the optional ones absent or valid, nothing else. */
function object(required: Record<string, Check>, optional: Record<string, Check> = {}, loose = false): Check {
  const requiredKeys = Object.keys(required);
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (const key of requiredKeys) {
      if (!Object.hasOwn(v, key) || !(required[key] as Check)(v[key])) return false;
    }
    for (const key of Object.keys(v)) {
      if (Object.hasOwn(required, key)) continue;
      const check = Object.hasOwn(optional, key) ? optional[key] : undefined;
      if (check === undefined) {
        if (!loose) return false;
      } else if (v[key] === undefined || !check(v[key])) {
        return false;
      }
    }
    return true;
  };
}

function record(key: Check, value: Check): Check {
  return (v) => {
    if (!isPlainObject(v)) return false;
    for (const name of Object.keys(v)) {
      if (name === '__proto__' || name === 'constructor' || name === 'prototype') return false;
      if (!key(name) || !value(v[name])) return false;
    }
    return true;
  };
}

const modelName: Check = (v) => matches(MODEL_NAME_PATTERN)(v) && !(v as string).includes('..');
const version = int(1);

const tensorSpec = object({ name: nonEmpty, datatype: oneOf(DATATYPE_SET), shape: array(int(-1)) });
const sampleTensor = object(
  { name: nonEmpty, datatype: oneOf(DATATYPE_SET), shape: array(int(0)), data: array(() => true) },
  {},
  true,
);

const numericBaseline = object({
  kind: literal('numeric'),
  edges: array(number),
  fractions: array(fraction, 1),
  mean: number,
  min: number,
  max: number,
});
const categoricalBaseline = object({ kind: literal('categorical'), fractions: record(string, fraction) });
const featureBaseline: Check = (v) => {
  if (!isPlainObject(v)) return false;
  if (v['kind'] === 'numeric') {
    return (
      numericBaseline(v) && (v['fractions'] as unknown[]).length === (v['edges'] as unknown[]).length + 1
    );
  }
  return v['kind'] === 'categorical' && categoricalBaseline(v);
};

const manifest = object(
  {
    schema: literal(MANIFEST_SCHEMA),
    name: modelName,
    version,
    artifact: object({ file: literal(ARTIFACT_FILE), sha256: matches(SHA256_HEX), bytes: int(0) }),
    signature: object({ inputs: array(tensorSpec, 1), outputs: array(tensorSpec, 1) }),
    createdAt: dateTime,
  },
  {
    description: string,
    features: array(nonEmpty),
    sample: object({
      inputs: array(sampleTensor, 1),
      outputs: array(sampleTensor, 1),
      tolerance: between(0, Number.MAX_VALUE),
    }),
    metrics: record(string, number),
    baseline: object(
      { rows: version, features: record(nonEmpty, featureBaseline) },
      { prediction: featureBaseline },
    ),
    source: record(string, string),
    attestation: object({
      keyId: matches(KEY_ID_PATTERN),
      algorithm: literal(SIGNATURE_ALGORITHM),
      value: matches(SIGNATURE_VALUE),
    }),
  },
);

export function isManifest(value: unknown): value is Manifest {
  return manifest(value);
}

const variant = object({ name: matches(VARIANT_NAME), version, weight: int(0, 100) });

const thresholds = object({
  minRequests: int(1),
  maxErrorRatio: between(1, 100),
  maxErrorRate: fraction,
  maxP99Ratio: between(1, 100),
  minWarmRequests: int(1),
  maxAccuracyDrop: fraction,
  minFeedback: int(1),
  significance: (v) => number(v) && (v as number) > 0 && (v as number) <= 0.2,
});

const rolloutShape = object(
  {
    id: (v) => typeof v === 'string' && v.length >= 1 && v.length <= 128,
    version,
    steps: array(int(1, 100), 1, 20),
    bakeSeconds: int(1, 7 * 24 * 3600),
    thresholds,
    state: oneOf(ROLLOUT_STATE_SET),
    stepIndex: int(0),
    startedAt: dateTime,
    stepStartedAt: dateTime,
  },
  { endedAt: dateTime, actor: string, reason: string },
);

const rollout: Check = (v) => {
  if (!rolloutShape(v)) return false;
  const { steps, stepIndex } = v as { steps: number[]; stepIndex: number };
  for (let i = 1; i < steps.length; i++) if ((steps[i] as number) <= (steps[i - 1] as number)) return false;
  return steps[steps.length - 1] === 100 && stepIndex < steps.length;
};

const bounded = (v: unknown) => typeof v === 'string' && v.length >= 1 && v.length <= 128;

const deploymentShape = object(
  {
    schema: literal(DEPLOYMENT_SCHEMA),
    model: modelName,
    stage: nonEmpty,
    variants: array(variant, 1),
    history: array(
      object({ at: dateTime, action: nonEmpty, variants: array(variant) }, { actor: string, reason: string }),
    ),
    updatedAt: dateTime,
  },
  {
    lastKnownGood: array(variant),
    shadow: object({ version, sampleRate: fraction }),
    sticky: object({ from: (v) => v === 'header' || v === 'field', key: bounded, experiment: bounded }),
    rollout,
  },
);

export function isDeploymentConfig(value: unknown): value is DeploymentConfig {
  if (!deploymentShape(value)) return false;
  const variants = (value as { variants: { name: string; weight: number }[] }).variants;
  let total = 0;
  const names = new Set<string>();
  for (const entry of variants) {
    if (names.has(entry.name)) return false;
    names.add(entry.name);
    total += entry.weight;
  }
  return total === 100;
}
