import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, UsageError } from '../../scripts/cli';
import { removeTempDirs } from '../support/fixtures';
import { twoVersionRepository } from '../traffic/support';

afterAll(removeTempDirs);

async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const lines: string[] = [];
  await run(args, env, (text) => lines.push(text));
  return lines.join('\n');
}

describe('modelfleet canary / rollback / shadow / sticky', () => {
  it('ramps a canary, shadows, makes cohorts sticky and rolls back, each via compare-and-swap', async () => {
    const repository = await twoVersionRepository();
    const env = { MODEL_REPOSITORY: repository.store.url, MODELFLEET_ACTOR: 'tester' };
    const file = path.join(fileURLToPath(repository.store.url), 'iris', 'deployments', 'local.json');
    const onDisk = () => JSON.parse(readFileSync(file, 'utf8'));

    expect(await cli(['canary', 'iris', '2', '--weight', '10'], env)).toBe(
      'stage local of iris: primary v1 90%, canary v2 10%\nrollback target: primary v1 100%',
    );
    const ramped = JSON.parse(await cli(['canary', 'iris', '2', '--weight', '20', '--json'], env));
    expect(ramped.variants).toEqual([
      { name: 'primary', version: 1, weight: 80 },
      { name: 'canary', version: 2, weight: 20 },
    ]);
    expect(onDisk()).toEqual(ramped);

    expect(await cli(['shadow', 'iris', '2', '--rate', '0.25'], env)).toContain(
      'shadow: v2 on 25% of requests',
    );
    expect(await cli(['sticky', 'iris', '--header', 'x-user-id'], env)).toContain(
      'sticky by header "x-user-id" (experiment iris)',
    );
    expect(onDisk()).toMatchObject({
      shadow: { version: 2, sampleRate: 0.25 },
      sticky: { from: 'header', key: 'x-user-id', experiment: 'iris' },
    });
    // The human views show them too, not only --json.
    expect((await cli(['list'], env)).split('\n')).toEqual([
      `repository ${repository.store.url}, stage local`,
      'MODEL        VERSIONS  STAGE local                   SHADOW  STICKY',
      'house-price  1,2       primary=v1:100%               -       -',
      'iris         1,2       primary=v1:80% canary=v2:20%  v2@25%  header:x-user-id',
    ]);
    const shown = await cli(['show', 'iris'], env);
    expect(shown).toContain('  shadow           v2 on 25% of requests');
    expect(shown).toContain('  sticky           by header "x-user-id" (experiment iris)');

    expect(await cli(['rollback', 'iris'], env)).toContain('stage local of iris: primary v1 100%');
    const history = onDisk().history.map((entry: { action: string; actor?: string }) => entry.action);
    expect(history.slice(-5)).toEqual([
      'canary 2 at 10%',
      'canary 2 at 20%',
      'shadow 2 at 0.25',
      'sticky by header x-user-id (iris)',
      'rollback to primary=1:100',
    ]);
    expect(onDisk().history.at(-1).actor).toBe('tester');

    expect(await cli(['shadow', 'iris', '--off'], env)).not.toContain('shadow:');
    expect(await cli(['split', 'iris', 'a=1:60', 'b=2:40'], env)).toContain(
      'stage local of iris: a v1 60%, b v2 40%\n',
    );
    await expect(cli(['split', 'iris', 'a=1:60', 'b=2:30'], env)).rejects.toThrow(
      'variants: weights must sum to 100, got 90',
    );
    await expect(cli(['split', 'iris', 'a=1'], env)).rejects.toThrow('split: expected NAME=VERSION:WEIGHT');
    expect(await cli(['rollback', 'iris'], env)).toContain('stage local of iris: primary v1 100%');
    expect(await cli(['sticky', 'iris', '--off'], env)).not.toContain('sticky');
  });

  it('refuses bad requests with clear errors and leaves the deployment untouched', async () => {
    const repository = await twoVersionRepository();
    const env = { MODEL_REPOSITORY: repository.store.url };
    const file = path.join(fileURLToPath(repository.store.url), 'iris', 'deployments', 'local.json');
    const before = readFileSync(file, 'utf8');
    await expect(cli(['canary', 'iris', '2'], env)).rejects.toThrow('canary: --weight N (0-100) is required');
    await expect(cli(['canary', 'iris', '2', '--weight', '150'], env)).rejects.toBeInstanceOf(UsageError);
    await expect(cli(['canary', 'iris', '9', '--weight', '10'], env)).rejects.toThrow(
      'model "iris" has no version 9',
    );
    await expect(cli(['canary', 'iris', '1', '--weight', '10'], env)).rejects.toThrow(
      'version 1 is already the primary',
    );
    await expect(cli(['shadow', 'iris', '2', '--rate', '2'], env)).rejects.toThrow(
      '--rate: expected a number from 0 to 1, got "2"',
    );
    await expect(cli(['shadow', 'iris', '7', '--rate', '0.5'], env)).rejects.toThrow(
      'model "iris" has no version 7',
    );
    await expect(cli(['shadow', 'iris', '--off'], env)).rejects.toThrow('shadow: no shadow is configured');
    await expect(cli(['rollback', 'iris'], env)).rejects.toThrow('rollback: there is no lastKnownGood');
    await expect(cli(['sticky', 'iris', '--header', 'a', '--field', 'b'], env)).rejects.toThrow(
      'sticky: give exactly one of --header NAME or --field NAME',
    );
    await expect(cli(['canary', 'nothere', '2', '--weight', '5'], env)).rejects.toThrow(
      'the model is not deployed on this stage',
    );
    expect(readFileSync(file, 'utf8')).toBe(before);
  });
});
