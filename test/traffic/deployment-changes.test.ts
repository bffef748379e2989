import {
  DEPLOYMENT_SCHEMA,
  type DeploymentConfig,
  deployedVersions,
  parseDeployment,
  promote,
  rollback,
  setCanary,
  setShadow,
  setSticky,
} from '../../shared/repository/deployment';

const now = new Date('2026-03-04T05:06:07.000Z');
const base = promote(undefined, { model: 'iris', stage: 'prod', version: 1 }, now);

describe('deployment config schema', () => {
  it('still reads a file written by promote before variants, shadow and sticky existed', () => {
    const old = {
      schema: DEPLOYMENT_SCHEMA,
      model: 'iris',
      stage: 'local',
      variants: [{ name: 'primary', version: 1, weight: 100 }],
      lastKnownGood: [{ name: 'primary', version: 1, weight: 100 }],
      history: [
        {
          at: now.toISOString(),
          action: 'promote 1',
          variants: [{ name: 'primary', version: 1, weight: 100 }],
          actor: 'samples',
        },
      ],
      updatedAt: now.toISOString(),
    };
    expect(parseDeployment(old, 'x')).toEqual(old);
  });

  it('accepts N variants, a shadow and sticky cohorts, and names bad fields', () => {
    const config = {
      ...base,
      variants: [
        { name: 'a', version: 1, weight: 50 },
        { name: 'b', version: 2, weight: 30 },
        { name: 'c', version: 3, weight: 20 },
      ],
      shadow: { version: 4, sampleRate: 0.1 },
      sticky: { from: 'header', key: 'x-user-id', experiment: 'exp-7' },
    };
    expect(parseDeployment(config, 'x')).toEqual(config);
    expect(deployedVersions(parseDeployment(config, 'x')).sort()).toEqual([1, 2, 3, 4]);
    expect(() => parseDeployment({ ...config, shadow: { version: 4, sampleRate: 1.5 } }, 'f')).toThrow(
      'f: shadow.sampleRate: Too big: expected number to be <=1',
    );
    expect(() =>
      parseDeployment({ ...config, sticky: { from: 'cookie', key: 'k', experiment: 'e' } }, 'f'),
    ).toThrow(/^f: sticky\.from: /);
    expect(() => parseDeployment({ ...config, sticky: { from: 'header', key: 'k' } }, 'f')).toThrow(
      /^f: sticky\.experiment: /,
    );
  });
});

describe('canary, rollback, shadow and sticky changes', () => {
  it('ramps a canary as the last variant and keeps the pre-canary state as lastKnownGood', () => {
    const ten = setCanary(base, 2, 10, now, 'alice');
    expect(ten.variants).toEqual([
      { name: 'primary', version: 1, weight: 90 },
      { name: 'canary', version: 2, weight: 10 },
    ]);
    expect(ten.lastKnownGood).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    const fifty = setCanary(ten, 2, 50, now);
    expect(fifty.variants.map((v) => v.weight)).toEqual([50, 50]);
    expect(fifty.lastKnownGood).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    expect(fifty.history.map((entry) => entry.action)).toEqual([
      'promote 1',
      'canary 2 at 10%',
      'canary 2 at 50%',
    ]);
    expect(parseDeployment(fifty, 'x')).toEqual(fifty);
    expect(setCanary(fifty, 2, 0, now).variants).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
  });

  it('a promote from the middle of a canary remembers the stable primary, not the mix', () => {
    const promoted = promote(setCanary(base, 2, 30, now), { model: 'iris', stage: 'prod', version: 2 }, now);
    expect(promoted.variants).toEqual([{ name: 'primary', version: 2, weight: 100 }]);
    expect(promoted.lastKnownGood).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    // A canary at 100% is still a canary: promoting it keeps version 1 as the way back.
    const full = promote(setCanary(base, 2, 100, now), { model: 'iris', stage: 'prod', version: 2 }, now);
    expect(full.lastKnownGood).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    expect(rollback(full, now).variants).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
  });

  it('rolls back at once to lastKnownGood, from a canary or from a blue-green switch', () => {
    const back = rollback(setCanary(base, 2, 40, now), now, 'bob');
    expect(back.variants).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    expect(back.history.at(-1)).toMatchObject({ action: 'rollback to primary=1:100', actor: 'bob' });
    const switched = promote(base, { model: 'iris', stage: 'prod', version: 3 }, now);
    expect(rollback(switched, now).variants).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
    expect(() => rollback(back, now)).toThrow(
      'rollback: the stage already serves lastKnownGood (primary=1:100)',
    );
    expect(() => rollback(base, now)).toThrow('rollback: there is no lastKnownGood to return to');
  });

  it('refuses canaries that make no sense, with the reason', () => {
    expect(() => setCanary(undefined, 2, 10, now)).toThrow(
      'canary 2: the model is not deployed on this stage',
    );
    expect(() => setCanary(base, 1, 10, now)).toThrow('version 1 is already the primary');
    expect(() => setCanary(base, 2, 101, now)).toThrow(
      'canary weight: expected an integer from 0 to 100, got 101',
    );
    const abc: DeploymentConfig = {
      ...base,
      variants: [
        { name: 'primary', version: 1, weight: 40 },
        { name: 'b', version: 2, weight: 60 },
      ],
    };
    expect(setCanary(abc, 3, 20, now).variants).toEqual([
      { name: 'primary', version: 1, weight: 20 },
      { name: 'b', version: 2, weight: 60 },
      { name: 'canary', version: 3, weight: 20 },
    ]);
    expect(() => setCanary(abc, 3, 50, now)).toThrow('the other variants (b 60%) leave only 40%');
  });

  it('sets and clears a shadow and sticky cohorts, keeping them across a canary and a promote', () => {
    const shadowed = setShadow(base, { version: 2, sampleRate: 0.2 }, now);
    expect(shadowed.shadow).toEqual({ version: 2, sampleRate: 0.2 });
    const sticky = setSticky(shadowed, { from: 'field', key: 'user_id', experiment: 'e1' }, now);
    const canary = setCanary(sticky, 3, 10, now);
    expect(canary).toMatchObject({ shadow: { version: 2 }, sticky: { key: 'user_id' } });
    const promoted = promote(canary, { model: 'iris', stage: 'prod', version: 2 }, now);
    expect(promoted.shadow).toBeUndefined();
    expect(promoted.sticky).toEqual({ from: 'field', key: 'user_id', experiment: 'e1' });
    const off = setShadow(shadowed, undefined, now);
    expect(off.shadow).toBeUndefined();
    expect(() => setShadow(off, undefined, now)).toThrow('shadow: no shadow is configured');
    expect(setSticky(sticky, undefined, now).sticky).toBeUndefined();
    for (const config of [shadowed, sticky, canary, promoted, off])
      expect(parseDeployment(config, 'x')).toEqual(config);
  });
});
