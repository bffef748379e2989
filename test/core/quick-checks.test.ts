/**
 * The hand-written acceptors (shared/repository/quick-checks.ts) let valid manifests and
 * deployment configs skip zod on the cold start. They must never accept what zod refuses, and
 * what they accept must be what zod returns; every refusal goes to zod, so messages are zod's.
 * Compared here on seeded mutations of complete documents.
 */
import { seededRandom } from '../../scripts/lib/random';
import { parseManifest, SIGNATURE_ALGORITHM } from '../../shared/repository/manifest';
import { isDeploymentConfig, isManifest } from '../../shared/repository/quick-checks';
import { deploymentSchema, manifestSchema } from '../../shared/repository/schemas';
import { formatIssues } from '../../shared/repository/validation';

const SIGNATURE = `${'A'.repeat(86)}==`;

const manifest = () => ({
  schema: 'modelfleet/manifest@1',
  name: 'iris.v2',
  version: 3,
  description: 'a model',
  artifact: { file: 'model.onnx', sha256: 'a'.repeat(64), bytes: 1234 },
  signature: {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }],
    outputs: [
      { name: 'label', datatype: 'INT64', shape: [-1] },
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
    ],
  },
  features: ['sepal length', 'sepal width', 'petal length', 'petal width'],
  sample: {
    inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2], extra: 'kept' }],
    outputs: [{ name: 'label', datatype: 'INT64', shape: [1], data: [0] }],
    tolerance: 0.001,
  },
  metrics: { accuracy: 0.97, f1: 0.96 },
  baseline: {
    rows: 150,
    features: {
      'sepal length': {
        kind: 'numeric',
        edges: [5, 6],
        fractions: [0.3, 0.4, 0.3],
        mean: 5.8,
        min: 4.3,
        max: 7.9,
      },
      species: { kind: 'categorical', fractions: { setosa: 0.33, versicolor: 0.33, virginica: 0.34 } },
    },
    prediction: { kind: 'categorical', fractions: { '0': 0.5, '1': 0.5 } },
  },
  source: { commit: 'abc123', trainer: 'sklearn' },
  createdAt: '2026-11-27T12:00:00.123Z',
  attestation: { keyId: 'release:2026', algorithm: SIGNATURE_ALGORITHM, value: SIGNATURE },
});

const variant = (name: string, version: number, weight: number) => ({ name, version, weight });

const deployment = () => ({
  schema: 'modelfleet/deployment@1',
  model: 'iris',
  stage: 'prod',
  variants: [variant('primary', 1, 90), variant('canary', 2, 10)],
  lastKnownGood: [variant('primary', 1, 100)],
  shadow: { version: 3, sampleRate: 0.25 },
  sticky: { from: 'header', key: 'x-user-id', experiment: 'exp-1' },
  rollout: {
    id: 'r-1',
    version: 2,
    steps: [10, 50, 100],
    bakeSeconds: 600,
    thresholds: {
      minRequests: 500,
      maxErrorRatio: 1.2,
      maxErrorRate: 0.05,
      maxP99Ratio: 1.5,
      minWarmRequests: 500,
      maxAccuracyDrop: 0.01,
      minFeedback: 500,
      significance: 0.01,
    },
    state: 'progressing',
    stepIndex: 0,
    startedAt: '2026-11-27T12:00:00Z',
    stepStartedAt: '2026-11-27T12:00:00.5Z',
    actor: 'guard',
    reason: 'started',
  },
  history: [
    { at: '2024-02-29T00:00:00Z', action: 'promote', variants: [variant('primary', 1, 100)], actor: 'ci' },
    {
      at: '2026-11-27T12:00:00Z',
      action: 'canary',
      variants: [variant('primary', 1, 90), variant('canary', 2, 10)],
    },
  ],
  updatedAt: '2026-11-27T12:00:00Z',
});

const minimalManifest = () => {
  const {
    description: _d,
    features: _f,
    sample: _s,
    metrics: _m,
    baseline: _b,
    source: _o,
    attestation: _a,
    ...rest
  } = manifest();
  return rest;
};

const minimalDeployment = () => {
  const { lastKnownGood: _l, shadow: _s, sticky: _t, rollout: _r, ...rest } = deployment();
  return { ...rest, variants: [variant('primary', 1, 100)] };
};

// Values that sit on or across the schemas' boundaries, and every JSON type.
const POOL: unknown[] = [
  null,
  true,
  '',
  'x',
  'primary',
  '..',
  'a..b',
  'a'.repeat(129),
  'FP32',
  SIGNATURE_ALGORITHM,
  'numeric',
  'categorical',
  'paused',
  'header',
  'model.onnx',
  'modelfleet/manifest@1',
  'modelfleet/deployment@1',
  '2026-02-29T00:00:00Z',
  '2024-02-29T23:59:59.999999Z',
  '2026-11-27T12:00:00+01:00',
  '2026-11-27T24:00:00Z',
  '2026-11-27T12:00Z',
  '2026-11-27',
  'b'.repeat(64),
  'B'.repeat(64),
  SIGNATURE,
  -1,
  0,
  -0,
  1,
  1.5,
  0.2,
  0.2000001,
  2,
  10,
  20,
  50,
  99,
  100,
  101,
  7 * 24 * 3600,
  7 * 24 * 3600 + 1,
  2 ** 53,
  1e300,
  [],
  [1],
  [100],
  [-1, 4],
  {},
  { kind: 'numeric', edges: [], fractions: [1], mean: 0, min: 0, max: 0 },
  variant('primary', 1, 100),
];

type Json = Record<string, unknown> | unknown[];

/** Every container in the document, with the key or index of each slot. */
function slots(root: Json): { parent: Json; key: string | number }[] {
  const out: { parent: Json; key: string | number }[] = [];
  const visit = (node: Json) => {
    const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
    for (const key of keys) {
      out.push({ parent: node, key });
      const child = (node as Record<string | number, unknown>)[key];
      if (child !== null && typeof child === 'object') visit(child as Json);
    }
  };
  visit(root);
  return out;
}

function mutate(doc: Json, random: () => number): void {
  const all = slots(doc);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
  const { parent, key } = pick(all);
  const p = parent as Record<string | number, unknown>;
  const roll = random();
  if (roll < 0.15) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete p[key];
  } else if (roll < 0.2) {
    p[key] = undefined;
  } else if (roll < 0.3 && !Array.isArray(parent)) {
    const name = pick(['extra', '__proto__', 'constructor', 'kind', 'actor', 'prediction', 'endedAt']);
    Object.defineProperty(parent, name, {
      value: pick(POOL),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else if (roll < 0.4 && Array.isArray(parent)) {
    parent.push(structuredClone(parent[key as number]));
  } else if (roll < 0.5) {
    // A nearby valid-looking value: numbers nudged, strings changed slightly.
    const value = p[key];
    if (typeof value === 'number') p[key] = value + pick([-1, 1, 0.5, -0.5, 100]);
    else if (typeof value === 'string')
      p[key] = pick([`${value}x`, value.slice(1), value.toUpperCase(), ` ${value}`]);
    else p[key] = pick(POOL);
  } else {
    p[key] = structuredClone(pick(POOL));
  }
}

function compare(
  name: string,
  bases: (() => Json)[],
  accepts: (value: unknown) => boolean,
  schema: typeof manifestSchema | typeof deploymentSchema,
) {
  const random = seededRandom(name === 'manifest' ? 21 : 22);
  let zodAccepted = 0;
  let quickAccepted = 0;
  for (let i = 0; i < 2000; i++) {
    const doc = (bases[i % bases.length] as () => Json)();
    const mutations = i < bases.length ? 0 : 1 + Math.floor(random() * 3);
    for (let m = 0; m < mutations; m++) mutate(doc, random);
    const quick = accepts(doc);
    const result = schema.safeParse(doc, { jitless: true });
    if (quick) {
      if (!result.success)
        throw new Error(
          `quick check accepted an invalid ${name}: ${formatIssues(result.error.issues)}\n${JSON.stringify(doc)}`,
        );
      expect(result.data).toEqual(doc);
      quickAccepted++;
    }
    if (result.success) zodAccepted++;
  }
  return { zodAccepted, quickAccepted };
}

describe('hand-written acceptors vs the zod schemas', () => {
  it('accept the complete and the minimal documents', () => {
    for (const doc of [manifest(), minimalManifest()]) {
      expect(manifestSchema.safeParse(doc).success).toBe(true);
      expect(isManifest(doc)).toBe(true);
    }
    for (const doc of [deployment(), minimalDeployment()]) {
      expect(deploymentSchema.safeParse(doc).success).toBe(true);
      expect(isDeploymentConfig(doc)).toBe(true);
    }
  });

  it('never accept a manifest zod refuses, and accept nearly all that zod accepts', () => {
    const { zodAccepted, quickAccepted } = compare(
      'manifest',
      [manifest, minimalManifest],
      isManifest,
      manifestSchema,
    );
    expect(zodAccepted).toBeGreaterThan(150);
    expect(quickAccepted / zodAccepted).toBeGreaterThan(0.9);
  });

  it('never accept a deployment config zod refuses, and accept nearly all that zod accepts', () => {
    const { zodAccepted, quickAccepted } = compare(
      'deployment',
      [deployment, minimalDeployment],
      isDeploymentConfig,
      deploymentSchema,
    );
    expect(zodAccepted).toBeGreaterThan(150);
    expect(quickAccepted / zodAccepted).toBeGreaterThan(0.9);
  });

  it('refuse what only the refinements catch', () => {
    const weights = deployment();
    weights.variants[1] = variant('canary', 2, 11);
    const duplicate = minimalDeployment();
    duplicate.variants = [variant('primary', 1, 50), variant('primary', 2, 50)];
    const steps = deployment();
    steps.rollout.steps = [50, 10, 100];
    const last = deployment();
    last.rollout.steps = [10, 50];
    const index = deployment();
    index.rollout.stepIndex = 3;
    for (const doc of [weights, duplicate, steps, last, index]) {
      expect(isDeploymentConfig(doc)).toBe(false);
      expect(deploymentSchema.safeParse(doc).success).toBe(false);
    }
    const edges = manifest();
    edges.baseline.features['sepal length'] = {
      ...edges.baseline.features['sepal length'],
      edges: [5],
    } as never;
    const dots = manifest();
    dots.name = 'a..b';
    for (const doc of [edges, dots]) {
      expect(isManifest(doc)).toBe(false);
      expect(manifestSchema.safeParse(doc).success).toBe(false);
    }
  });
});

describe('parsing without zod on the valid path', () => {
  it('gives zod’s messages for invalid documents', () => {
    const bad = { ...manifest(), version: 0, extra: 1 };
    const result = manifestSchema.safeParse(bad, { jitless: true });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(() => parseManifest(bad, 'm.json')).toThrow(
      `m.json: invalid manifest: ${formatIssues(result.error.issues)}`,
    );
  });

  it('parses valid documents with the schemas unloadable, and reports errors through them', () => {
    jest.isolateModules(() => {
      jest.doMock('../../shared/repository/schemas', () => {
        throw new Error('the zod schemas were loaded');
      });
      const { parseManifest } =
        require('../../shared/repository/manifest') as typeof import('../../shared/repository/manifest');
      const { parseDeployment } =
        require('../../shared/repository/deployment') as typeof import('../../shared/repository/deployment');
      const valid = manifest();
      expect(parseManifest(valid, 'm.json')).toBe(valid);
      const config = deployment();
      expect(parseDeployment(config, 'd.json')).toBe(config);
      expect(() => parseManifest({ ...valid, version: 0 }, 'm.json')).toThrow('the zod schemas were loaded');
    });
    jest.dontMock('../../shared/repository/schemas');
  });
});
