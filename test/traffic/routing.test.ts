import type { Variant } from '../../shared/repository/deployment';
import { routeRequest, stickyKeyOf, stickyPoint } from '../../shared/traffic/variant-pick';
import { seededRandom } from '../support/random';

const twoWay = (canary: number): Variant[] => [
  { name: 'primary', version: 1, weight: 100 - canary },
  { name: 'canary', version: 2, weight: canary },
];

function shares(variants: Variant[], draws: number, seed: number, key?: (i: number) => string) {
  const random = seededRandom(seed);
  const sticky =
    key === undefined ? undefined : { from: 'header' as const, key: 'x-user-id', experiment: 'exp-1' };
  const counts = new Map<string, number>();
  for (let i = 0; i < draws; i++) {
    const name = routeRequest({ variants, sticky }, key?.(i), random).variant.name;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return (name: string) => ((counts.get(name) ?? 0) / draws) * 100;
}

describe('weighted routing (seeded)', () => {
  it('sends 10% ± 0.5 points to a 10% canary over 100,000 requests', () => {
    for (const seed of [1, 2]) {
      const share = shares(twoWay(10), 100_000, seed);
      expect(Math.abs(share('canary') - 10)).toBeLessThan(0.5);
      expect(Math.abs(share('primary') - 90)).toBeLessThan(0.5);
    }
  });

  it('splits three variants 50/30/20 within ± 0.5 points each', () => {
    const variants: Variant[] = [
      { name: 'a', version: 1, weight: 50 },
      { name: 'b', version: 2, weight: 30 },
      { name: 'c', version: 3, weight: 20 },
    ];
    const share = shares(variants, 100_000, 11);
    expect(Math.abs(share('a') - 50)).toBeLessThan(0.5);
    expect(Math.abs(share('b') - 30)).toBeLessThan(0.5);
    expect(Math.abs(share('c') - 20)).toBeLessThan(0.5);
  });

  it('spreads distinct sticky keys by weight as well', () => {
    const share = shares(twoWay(10), 100_000, 5, (i) => `user-${i}`);
    expect(Math.abs(share('canary') - 10)).toBeLessThan(0.5);
  });
});

describe('sticky cohorts', () => {
  const sticky = { from: 'header' as const, key: 'x-user-id', experiment: 'exp-1' };

  it('gives a key the same variant on 1,000 repeats (for 100 keys), whatever the random source says', () => {
    const random = seededRandom(99);
    const variants: Variant[] = [
      { name: 'a', version: 1, weight: 50 },
      { name: 'b', version: 2, weight: 30 },
      { name: 'c', version: 3, weight: 20 },
    ];
    for (let k = 0; k < 100; k++) {
      const key = `user-${k}`;
      const first = routeRequest({ variants, sticky }, key, random);
      expect(first.sticky).toBe(true);
      for (let i = 0; i < 1000; i++) {
        if (routeRequest({ variants, sticky }, key, random).variant !== first.variant) {
          throw new Error(`key ${key} moved on repeat ${i}`);
        }
      }
    }
  });

  it('never moves a key out of the canary as it ramps 10 → 20 → 50 (and only ever adds keys)', () => {
    const random = seededRandom(3);
    const inCanary = (weight: number, key: string) =>
      routeRequest({ variants: twoWay(weight), sticky }, key, random).variant.name === 'canary';
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}`);
    let previous = new Set<string>();
    for (const weight of [10, 20, 50, 100]) {
      const now = new Set(keys.filter((key) => inCanary(weight, key)));
      for (const key of previous) if (!now.has(key)) throw new Error(`${key} left the canary at ${weight}%`);
      expect(Math.abs((now.size / keys.length) * 100 - weight)).toBeLessThan(1);
      expect(now.size).toBeGreaterThan(previous.size);
      previous = now;
    }
  });

  it('reshuffles cohorts with a new experiment id and stays in [0, 1)', () => {
    const moved = Array.from({ length: 1000 }, (_, i) => `u${i}`).filter(
      (key) => stickyPoint(key, 'exp-1') < 0.5 !== stickyPoint(key, 'exp-2') < 0.5,
    ).length;
    expect(moved).toBeGreaterThan(400);
    expect(moved).toBeLessThan(600);
    for (let i = 0; i < 1000; i++) {
      const point = stickyPoint(String(i), 'e');
      expect(point).toBeGreaterThanOrEqual(0);
      expect(point).toBeLessThan(1);
    }
  });

  it('falls back to the random draw for requests without a key', () => {
    const decision = routeRequest({ variants: twoWay(50), sticky }, undefined, () => 0.75);
    expect(decision).toEqual({ variant: { name: 'canary', version: 2, weight: 50 }, sticky: false });
    expect(routeRequest({ variants: twoWay(50), sticky }, undefined, () => 0.25).variant.name).toBe(
      'primary',
    );
  });

  it('reads the key from a header (any case) or a body field, top level, parameters or params', () => {
    const header = { from: 'header' as const, key: 'X-User-Id', experiment: 'e' };
    expect(stickyKeyOf(header, { 'x-user-id': ' alice ' }, {})).toBe('alice');
    expect(stickyKeyOf(header, {}, { 'X-User-Id': 'alice' })).toBeUndefined();
    const field = { from: 'field' as const, key: 'user_id', experiment: 'e' };
    expect(stickyKeyOf(field, {}, { user_id: 'bob' })).toBe('bob');
    expect(stickyKeyOf(field, {}, { parameters: { user_id: 42 } })).toBe('42');
    expect(stickyKeyOf(field, {}, { params: { user_id: 'carol' } })).toBe('carol');
    for (const body of [{}, { user_id: '' }, { user_id: { a: 1 } }, { user_id: 'x'.repeat(300) }, [], null]) {
      expect(stickyKeyOf(field, {}, body)).toBeUndefined();
    }
    expect(stickyKeyOf(undefined, { 'x-user-id': 'a' }, {})).toBeUndefined();
  });
});

describe('shadow sampling', () => {
  it('samples the configured rate, and never shadows the version that serves the request', () => {
    const random = seededRandom(8);
    const config = { variants: twoWay(0), shadow: { version: 2, sampleRate: 0.25 } };
    let sampled = 0;
    for (let i = 0; i < 100_000; i++)
      if (routeRequest(config, undefined, random).shadowVersion === 2) sampled++;
    expect(Math.abs(sampled / 1000 - 25)).toBeLessThan(0.5);
    const same = { variants: twoWay(100), shadow: { version: 2, sampleRate: 1 } };
    expect(routeRequest(same, undefined, random).shadowVersion).toBeUndefined();
    const off = { variants: twoWay(0), shadow: { version: 2, sampleRate: 0 } };
    expect(routeRequest(off, undefined, () => 0).shadowVersion).toBeUndefined();
  });
});
