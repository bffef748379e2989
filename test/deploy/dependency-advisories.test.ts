/**
 * Advisories checked by hand (the registry here refuses npm's audit endpoint; SECURITY.md,
 * "Dependencies", says how). Each pinned fix is asserted on the lock file, so a lock regenerated
 * without the override fails here rather than shipping the vulnerable version again.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const root = path.join(__dirname, '..', '..');
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string }>;
};

function atLeast(version: string, minimum: string): boolean {
  const parse = (v: string) => v.split('-')[0]?.split('.').map(Number) ?? [];
  const [a, b] = [parse(version), parse(minimum)];
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

describe('dependency advisories', () => {
  it('GHSA-w5hq-g745-h8pq: every installed uuid is 11.1.1 or later', () => {
    const copies = Object.entries(lock.packages).filter(([key]) => /(^|\/)node_modules\/uuid$/.test(key));
    expect(copies.length).toBeGreaterThan(0);
    const old = copies.filter(([, entry]) => !atLeast(entry.version ?? '0.0.0', '11.1.1'));
    expect(old).toEqual([]);
  });

  it('the packages that reach uuid still get a working v4() from the overridden version', () => {
    for (const dependent of ['@azure/msal-node', 'cloudevents', 'gaxios', 'teeny-request']) {
      const from = createRequire(require.resolve(`${dependent}/package.json`, { paths: [root] }));
      const uuid = from('uuid') as { v4: () => string };
      expect([dependent, uuid.v4()]).toEqual([dependent, expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    }
  });
});
