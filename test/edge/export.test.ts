import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, UsageError } from '../../scripts/cli';
import { removeTempDirs, sampleRepository, tempDir } from '../support/fixtures';

afterAll(removeTempDirs);

async function cli(args: string[], env: Record<string, string> = {}): Promise<string> {
  const lines: string[] = [];
  await run(args, env, (text) => lines.push(text));
  return lines.join('\n');
}

describe('modelfleet export-edge', () => {
  it('writes a static folder: page, module, WASM, the deployment and its versions, an index', async () => {
    const repository = await sampleRepository();
    const out = tempDir('modelfleet-export-');
    const base = ['--repository', repository.store.url, '--stage', 'local', '--out', out];
    expect(await cli(['export-edge', 'iris', ...base])).toMatch(/^exported iris version 1 \(stage local\)/);
    await cli(['export-edge', 'house-price', '1', ...base]);
    for (const file of [
      'index.html',
      'page.js',
      'page-file.js',
      'edge-files.js',
      'modelfleet-edge.mjs',
      'ort-wasm-simd-threaded.asyncify.wasm',
      'models/iris/deployments/local.json',
      'models/iris/1/manifest.json',
      'models/iris/1/model.onnx',
      'models/house-price/1/model.onnx',
    ]) {
      expect({ file, exists: existsSync(path.join(out, file)) }).toEqual({ file, exists: true });
    }
    expect(existsSync(path.join(out, 'models/house-price/deployments'))).toBe(false);
    expect(JSON.parse(readFileSync(path.join(out, 'models/index.json'), 'utf8'))).toEqual({
      stage: 'local',
      models: [
        expect.objectContaining({ name: 'iris' }),
        expect.objectContaining({ name: 'house-price', version: 1 }),
      ],
    });
    // The manifest is shipped byte for byte as published.
    const published = path.join(new URL(repository.store.url).pathname, 'iris', '1', 'manifest.json');
    expect(readFileSync(path.join(out, 'models/iris/1/manifest.json'))).toEqual(readFileSync(published));
  }, 60_000);

  it('refuses to export a damaged artifact, an undeployed model or a bad request', async () => {
    const repository = await sampleRepository();
    const root = new URL(repository.store.url).pathname;
    const out = tempDir('modelfleet-export-');
    const base = ['--repository', repository.store.url, '--out', out];
    await expect(cli(['export-edge', 'iris', '--stage', 'nowhere', ...base])).rejects.toThrow(
      /model "iris" is not deployed on stage "nowhere"/,
    );
    await expect(cli(['export-edge', 'iris', '0', ...base])).rejects.toThrow(UsageError);
    await expect(cli(['export-edge', 'iris', '--repository', repository.store.url])).rejects.toThrow(
      /--out DIR is required/,
    );
    const artifact = path.join(root, 'iris', '1', 'model.onnx');
    writeFileSync(artifact, Buffer.concat([readFileSync(artifact), Buffer.from([0])]));
    await expect(cli(['export-edge', 'iris', ...base, '--stage', 'local'])).rejects.toThrow(
      /refusing to export: iris version 1: model\.onnx has/,
    );
    expect(existsSync(path.join(out, 'models'))).toBe(false);
  }, 60_000);
});
