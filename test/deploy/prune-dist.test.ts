import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { removeTempDirs, tempDir } from '../support/fixtures';

afterAll(removeTempDirs);

const PRUNE = path.join(__dirname, '..', '..', 'scripts', 'prune-dist.cjs');

function touch(root: string, file: string): void {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), '');
}

describe('npm run build after a move (scripts/prune-dist.cjs)', () => {
  it('removes the outputs of moved sources, which would shadow their new folder, and keeps the rest', () => {
    const root = tempDir('modelfleet-prune-');
    // shared/config.ts became shared/config/index.ts: the old dist/shared/config.js would win.
    touch(root, 'shared/config/index.ts');
    touch(root, 'shared/app.ts');
    touch(root, 'scripts/check.cjs');
    for (const file of [
      'config.js',
      'config.js.map',
      'config.d.ts',
      'config/index.js',
      'app.js',
      'gone/x.js',
    ]) {
      touch(root, `dist/shared/${file}`);
    }
    touch(root, 'dist/.tsbuildinfo');

    const run = spawnSync(process.execPath, [PRUNE, root], { encoding: 'utf8' });

    expect(run.status).toBe(0);
    const left = (file: string) => existsSync(path.join(root, 'dist', file));
    expect(
      ['shared/config.js', 'shared/config.js.map', 'shared/config.d.ts', 'shared/gone'].filter(left),
    ).toEqual([]);
    expect(['shared/config/index.js', 'shared/app.js', '.tsbuildinfo'].every(left)).toBe(true);
  });
});
