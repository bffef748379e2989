/**
 * Issue 13, item 7: on a shared host another user could pre-create the artifact cache folder and
 * plant a forged version whose cached manifest and artifact agree with each other. A cached
 * artifact is now used only when it matches the manifest read from the store, and a folder that
 * is not private to this user is refused.
 */
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { irisModel } from '../../scripts/lib/sample-models';
import { parseConfig } from '../../shared/config';
import { sha256Hex } from '../../shared/repository/repository';
import { ArtifactDiskCache } from '../../shared/serving/artifact-cache';
import { ModelCache } from '../../shared/serving/model-cache';
import { ort } from '../../shared/serving/onnx';
import { createLogger } from '../../shared/telemetry/log';
import { removeTempDirs, sampleRepository, tempDir } from '../support/fixtures';

afterAll(removeTempDirs);

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger('warn', (line) => lines.push(JSON.parse(line))) };
}

/** Plants iris version 1 in `dir` as an attacker would: a different model and a manifest that matches it. */
function plant(dir: string, storeUrl: string, realManifest: Record<string, unknown>) {
  const forged = Buffer.from(irisModel([100, -100, -100]));
  const manifest = {
    ...realManifest,
    artifact: {
      ...(realManifest['artifact'] as object),
      sha256: sha256Hex(forged),
      bytes: forged.byteLength,
    },
  };
  // Written directly, as another user would, not through the cache under test.
  const folder = path.join(
    dir,
    createHash('sha256').update(storeUrl).digest('hex').slice(0, 16),
    'iris',
    '1',
  );
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, 'model.onnx'), forged);
  writeFileSync(path.join(folder, 'manifest.json'), JSON.stringify(manifest));
  return folder;
}

async function predictedLabel(cache: ModelCache): Promise<number> {
  const { model } = await cache.get('iris', 1);
  const input = new ort.Tensor('float32', Float32Array.from([6.7, 3.0, 5.2, 2.3]), [1, 4]);
  const outputs = await model.session.run({ input }, ['label']);
  return Number((outputs['label']?.data as BigInt64Array | undefined)?.[0]);
}

describe('artifact disk cache on a shared host', () => {
  it('serves the store’s version, not a planted copy that agrees with its own manifest', async () => {
    const repository = await sampleRepository();
    const dir = tempDir('modelfleet-cache-');
    const real = JSON.parse((await repository.readManifestBytes('iris', 1))?.toString('utf8') ?? '{}');
    plant(dir, repository.store.url, real);
    const { log, lines } = recordingLogger();
    const cache = new ModelCache(repository, 4, { disk: new ArtifactDiskCache(dir, 1 << 30, log), log });
    // The real iris says virginica (2) for these measurements; the forged one would say setosa (0).
    expect(await predictedLabel(cache)).toBe(2);
    expect(cache.downloads).toBe(1);
    expect(lines.map((l) => l['message'])).toContain(
      'artifact disk cache holds a copy that does not match the store; downloading',
    );
  });

  it('refuses a folder other users can write to, and one another user owns', async () => {
    const repository = await sampleRepository();
    const real = JSON.parse((await repository.readManifestBytes('iris', 1))?.toString('utf8') ?? '{}');
    for (const spoil of [
      (dir: string) => chmodSync(dir, 0o777),
      (dir: string) => chownSync(dir, 65534, 65534),
    ]) {
      const dir = tempDir('modelfleet-cache-');
      spoil(dir);
      const { log, lines } = recordingLogger();
      const disk = new ArtifactDiskCache(dir, 1 << 30, log);
      const cache = new ModelCache(repository, 4, { disk, log });
      expect(await predictedLabel(cache)).toBe(2);
      await cache.flushed();
      const refused = lines.find(
        (l) => l['message'] === 'artifact disk cache refused; versions are downloaded instead',
      );
      expect(refused?.['problem']).toMatch(/is writable by other users \(mode 777\)|is owned by uid 65534/);
      // Nothing was written into the refused folder, and a planted copy there is never read.
      expect(statSync(dir).nlink).toBe(2);
      plant(dir, repository.store.url, { ...real, artifact: real.artifact });
      expect(await disk.read(repository.store.url, 'iris', 1)).toBeUndefined();
    }
  });

  it('creates its folder private (0700) and defaults to a per-user path', async () => {
    const parent = tempDir('modelfleet-parent-');
    const dir = path.join(parent, 'cache');
    const repository = await sampleRepository();
    const { log } = recordingLogger();
    const cache = new ModelCache(repository, 4, { disk: new ArtifactDiskCache(dir, 1 << 30, log), log });
    await cache.get('iris', 1);
    await cache.flushed();
    expect(existsSync(dir)).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const uid = process.getuid?.();
    expect(path.basename(parseConfig({}).artifactCacheDir)).toBe(`modelfleet-cache-${uid}`);
  });
});
