import { DEPLOYMENT_SCHEMA, parseDeployment, pickVariant, promote } from '../../shared/repository/deployment';
import { seededRandom } from '../support/random';

const variants = [
  { name: 'primary', version: 1, weight: 90 },
  { name: 'canary', version: 2, weight: 10 },
];

describe('pickVariant', () => {
  it('covers the edges of the random range', () => {
    expect(pickVariant(variants, 0).name).toBe('primary');
    expect(pickVariant(variants, 0.8999).name).toBe('primary');
    expect(pickVariant(variants, 0.9).name).toBe('canary');
    expect(pickVariant(variants, 0.999999).name).toBe('canary');
    expect(pickVariant(variants, 1).name).toBe('canary');
  });

  it('never picks a zero-weight variant and always returns one', () => {
    const withZero = [
      { name: 'a', version: 1, weight: 0 },
      { name: 'b', version: 2, weight: 100 },
      { name: 'c', version: 3, weight: 0 },
    ];
    for (const r of [0, 0.5, 0.9999999, 1]) expect(pickVariant(withZero, r).name).toBe('b');
  });

  it('stays total when weights do not sum to 100', () => {
    const odd = [
      { name: 'a', version: 1, weight: 1 },
      { name: 'b', version: 2, weight: 2 },
    ];
    expect(pickVariant(odd, 0.999999).name).toBe('b');
    expect(pickVariant([{ name: 'a', version: 1, weight: 0 }], 0.5).name).toBe('a');
  });

  it('lands within 0.5 points of a 10% canary over 100,000 seeded picks', () => {
    const random = seededRandom(42);
    let canary = 0;
    for (let i = 0; i < 100_000; i++) if (pickVariant(variants, random()).name === 'canary') canary++;
    expect(Math.abs(canary / 1000 - 10)).toBeLessThan(0.5);
  });
});

describe('deployment config', () => {
  const now = new Date('2026-01-02T03:04:05.000Z');

  it('promote sends all traffic to the version and keeps the previous variants as lastKnownGood', () => {
    const first = promote(undefined, { model: 'iris', stage: 'prod', version: 1 }, now);
    const second = promote(first, { model: 'iris', stage: 'prod', version: 2 }, now, 'alice');
    expect(second.variants).toEqual([{ name: 'primary', version: 2, weight: 100 }]);
    expect(second.lastKnownGood).toEqual(first.variants);
    expect(second.history.map((entry) => entry.action)).toEqual(['promote 1', 'promote 2']);
    expect(parseDeployment(second, 'x')).toEqual(second);
  });

  it('refuses weights that do not sum to 100 and duplicate names, naming the field', () => {
    const bad = {
      schema: DEPLOYMENT_SCHEMA,
      model: 'iris',
      stage: 'prod',
      variants: [
        { name: 'a', version: 1, weight: 60 },
        { name: 'a', version: 2, weight: 30 },
      ],
      history: [],
      updatedAt: now.toISOString(),
    };
    expect(() => parseDeployment(bad, 'iris/deployments/prod.json')).toThrow(
      'iris/deployments/prod.json: variants: weights must sum to 100, got 90; variants[1].name: duplicate variant "a"',
    );
  });

  it('refuses unknown keys so that typos are caught', () => {
    const config = { ...promote(undefined, { model: 'iris', stage: 'prod', version: 1 }, now), varients: [] };
    expect(() => parseDeployment(config, 'x')).toThrow(/Unrecognized key: "varients"/);
  });
});
