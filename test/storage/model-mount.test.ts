import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { publishMissingSamples } from '../../scripts/lib/samples';
import { detectMountLayout, openModelMount } from '../../shared/repository/model-mount';
import { ModelRepository } from '../../shared/repository/repository';
import { FsModelStore } from '../../shared/store';
import { removeTempDirs, SAMPLES_DIR, tempDir } from '../support/fixtures';

let repositoryRoot: string;

beforeAll(async () => {
  repositoryRoot = tempDir('modelfleet-mount-repo-');
  await publishMissingSamples(new ModelRepository(new FsModelStore(repositoryRoot)), ['prod']);
});
afterAll(removeTempDirs);

/** A folder holding `files` copied from iris version 1 under `sub`. */
function mount(sub: string, files: string[]): string {
  const root = tempDir('modelfleet-mount-');
  mkdirSync(path.join(root, sub), { recursive: true });
  for (const file of files) cpSync(path.join(repositoryRoot, 'iris', '1', file), path.join(root, sub, file));
  return root;
}

describe('openModelMount (what a managed endpoint mounts)', () => {
  it('serves a package folder as version N of its model, deployed on every stage', async () => {
    for (const root of [
      mount('', ['manifest.json', 'model.onnx']),
      mount('iris-package', ['manifest.json', 'model.onnx']),
    ]) {
      const repository = new ModelRepository(await openModelMount(new FsModelStore(root), 'model'));
      expect(await repository.listModels()).toEqual(['iris']);
      expect(await repository.listVersions('iris')).toEqual([1]);
      for (const stage of ['prod', 'staging']) {
        const read = await repository.readDeployment('iris', stage);
        expect(read).toMatchObject({ config: { variants: [{ name: 'primary', version: 1, weight: 100 }] } });
      }
      expect(await repository.checkIntegrity('iris', 1)).toBeUndefined();
      await expect(repository.store.put('iris/2/model.onnx', new Uint8Array(1))).rejects.toThrow(
        'is a mounted model package and read-only; cannot write iris/2/model.onnx',
      );
    }
  });

  it('names a bare model.onnx after the fallback and serves it without a deployment (latest)', async () => {
    const root = tempDir('modelfleet-mount-bare-');
    cpSync(path.join(SAMPLES_DIR, 'iris', 'model.onnx'), path.join(root, 'model.onnx'));
    const layout = await detectMountLayout(new FsModelStore(root), 'flowers');
    expect(layout).toEqual({ kind: 'package', folder: '', model: 'flowers', version: 1, hasManifest: false });
    const store = await openModelMount(new FsModelStore(root), 'flowers');
    expect(await store.list('flowers')).toEqual(['1']);
    expect((await store.get('flowers/deployments/prod.json')).status).toBe('not-found');
    expect((await store.get('flowers/1/model.onnx')).status).toBe('ok');
  });

  it('serves a repository as it is', async () => {
    const store = new FsModelStore(repositoryRoot);
    expect(await detectMountLayout(store, 'model')).toEqual({ kind: 'repository' });
    expect(await openModelMount(store, 'model')).toBe(store);
    // One model folder with numbered versions is a one-model repository, not a package.
    const single = mount(path.join('iris', '1'), ['manifest.json', 'model.onnx']);
    expect(await detectMountLayout(new FsModelStore(single), 'model')).toEqual({ kind: 'repository' });
  });

  it('stops the start on a manifest that names no model', async () => {
    const root = tempDir('modelfleet-mount-bad-');
    writeFileSync(path.join(root, 'manifest.json'), '{"name": "iris"}');
    await expect(openModelMount(new FsModelStore(root), 'model')).rejects.toThrow(
      'manifest.json names no model (expected "name" and a positive integer "version")',
    );
  });
});
