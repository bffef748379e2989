import { createHash } from 'node:crypto';
import { stickyPointWebCrypto } from '../../shared/traffic/sticky-hash';
import { stickyPoint } from '../../shared/traffic/variant-pick';

const KEYS = [
  ...Array.from({ length: 200 }, (_, i) => `user-${i}`),
  'réq-ü✓-日本',
  '42',
  ' spaced ',
  'x'.repeat(256),
];

describe('the sticky hash on both sides of the wire', () => {
  it('keeps the point every existing key already had (no reshuffle of cohorts)', () => {
    for (const key of KEYS) {
      const legacy = createHash('sha256').update('exp-1').update('\u0000').update(key).digest();
      expect(stickyPoint(key, 'exp-1')).toBe(legacy.readUIntBE(0, 6) / 2 ** 48);
    }
  });

  it('gives the same point with WebCrypto (edge) as with node:crypto (server)', async () => {
    for (const experiment of ['exp-1', 'spring-ümlaut']) {
      const edge = await Promise.all(KEYS.map((key) => stickyPointWebCrypto(key, experiment)));
      expect(edge).toEqual(KEYS.map((key) => stickyPoint(key, experiment)));
    }
    expect(await stickyPointWebCrypto('user-1', 'exp-1')).not.toBe(
      await stickyPointWebCrypto('user-1', 'exp-2'),
    );
  });
});
