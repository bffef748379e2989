import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, UsageError } from '../../scripts/cli';
import { buildModel } from '../../scripts/lib/onnx-builder';
import { parseManifest } from '../../shared/repository/manifest';
import { ModelRepository } from '../../shared/repository/repository';
import { FsModelStore } from '../../shared/store';
import { json, postJson, removeTempDirs, sampleApp, tempDir } from '../support/fixtures';

afterAll(removeTempDirs);

/** A model made by the test: y = x * 2 + offset, with a float [N,3] input and an int64 [N] input. */
function makeModel(dir: string): string {
  const file = path.join(dir, 'scaler.onnx');
  writeFileSync(
    file,
    buildModel({
      name: 'scaler',
      inputs: [
        { name: 'x', type: 'FLOAT', shape: ['n', 3] },
        { name: 'offset', type: 'INT64', shape: ['n', 1] },
      ],
      outputs: [{ name: 'y', type: 'FLOAT', shape: ['n', 3] }],
      initializers: [{ name: 'two', type: 'FLOAT', dims: [1], values: [2] }],
      nodes: [
        { op: 'Mul', inputs: ['x', 'two'], outputs: ['x2'] },
        { op: 'Cast', inputs: ['offset'], outputs: ['offset_f'], attributes: { to: { i: 1 } } },
        { op: 'Add', inputs: ['x2', 'offset_f'], outputs: ['y'] },
      ],
    }),
  );
  return file;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const lines: string[] = [];
  await run(args, env, (text) => lines.push(text));
  return lines.join('\n');
}

const sample = {
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] },
    { name: 'offset', datatype: 'INT64', shape: [1, 1], data: [10] },
  ],
};

describe('modelfleet CLI', () => {
  it('packages a model: signature from the model, sha256, size and the sample outputs it produces', async () => {
    const dir = tempDir();
    const model = makeModel(dir);
    writeFileSync(path.join(dir, 'sample.json'), JSON.stringify(sample));
    const out = path.join(dir, 'pkg');
    const printed = await cli([
      'package',
      model,
      '--name',
      'scaler',
      '--out',
      out,
      '--sample',
      path.join(dir, 'sample.json'),
      '--json',
    ]);
    const manifest = parseManifest(JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')), 'pkg');
    expect(JSON.parse(printed).manifest).toEqual(manifest);
    expect(manifest.signature).toEqual({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [-1, 3] },
        { name: 'offset', datatype: 'INT64', shape: [-1, 1] },
      ],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [-1, 3] }],
    });
    expect(manifest.artifact.bytes).toBe(readFileSync(model).byteLength);
    expect(manifest.artifact.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.sample?.outputs).toEqual([
      { name: 'y', datatype: 'FP32', shape: [1, 3], data: [12, 14, 16] },
    ]);
  });

  it('refuses a sample whose expected outputs the model does not reproduce', async () => {
    const dir = tempDir();
    const model = makeModel(dir);
    const wrong = {
      ...sample,
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 3], data: [12, 14, 99] }],
    };
    writeFileSync(path.join(dir, 'sample.json'), JSON.stringify(wrong));
    await expect(
      cli(['package', model, '--sample', path.join(dir, 'sample.json'), '--out', path.join(dir, 'p')]),
    ).rejects.toThrow('output "y" element 2: got 16, expected 99');
  });

  it('publishes versions 1, 2, … refuses to overwrite one, and serves what it promoted', async () => {
    const dir = tempDir();
    const model = makeModel(dir);
    const repo = path.join(dir, 'repo');
    const env = { MODEL_REPOSITORY: repo };
    expect(await cli(['publish', model, '--name', 'scaler', '--promote'], env)).toContain(
      'published scaler version 1',
    );
    await expect(cli(['publish', model, '--name', 'scaler'], env)).rejects.toThrow(
      'scaler version 1 already has this artifact',
    );
    expect(existsSync(path.join(repo, 'scaler', '2'))).toBe(false);
    expect(
      JSON.parse(await cli(['publish', model, '--name', 'scaler', '--json', '--force'], env)),
    ).toMatchObject({
      version: 2,
      promoted: false,
    });
    await expect(
      cli(['publish', model, '--name', 'scaler', '--version', '2', '--force'], env),
    ).rejects.toThrow('model "scaler" version 2 already exists; versions are immutable');
    expect(existsSync(path.join(repo, 'scaler', '2', 'model.onnx'))).toBe(true);

    const { app } = await sampleApp({}, new ModelRepository(new FsModelStore(repo)));
    const before = await app.handle(postJson('/v2/models/scaler/infer', sample));
    expect(json(before)).toMatchObject({ model_version: '1', outputs: [{ data: [12, 14, 16] }] });

    await cli(['promote', 'scaler', '2'], env);
    const config = JSON.parse(readFileSync(path.join(repo, 'scaler', 'deployments', 'local.json'), 'utf8'));
    expect(config.variants).toEqual([{ name: 'primary', version: 2, weight: 100 }]);
    expect(config.lastKnownGood).toEqual([{ name: 'primary', version: 1, weight: 100 }]);
  });

  it('refuses to promote a version that does not exist, leaving the deployment as it was', async () => {
    const dir = tempDir();
    const model = makeModel(dir);
    const env = { MODEL_REPOSITORY: path.join(dir, 'repo') };
    await cli(['publish', model, '--promote'], env);
    const file = path.join(dir, 'repo', 'scaler', 'deployments', 'local.json');
    const before = readFileSync(file, 'utf8');
    await expect(cli(['promote', 'scaler', '7'], env)).rejects.toThrow('model "scaler" has no version 7');
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('suggests the command or option meant, and validates the stage by the server rule', async () => {
    await expect(cli(['promte', 'x', '1'])).rejects.toThrow(
      'unknown command "promte"; did you mean "promote"?',
    );
    await expect(cli(['canary', 'x', '2', '--weigth', '10'])).rejects.toThrow(
      'canary: unknown option --weigth; did you mean --weight?',
    );
    await expect(cli(['canary', 'x', '2', '--weight'])).rejects.toThrow('canary: --weight needs a value');
    await expect(cli(['list', '--promote'])).rejects.toThrow('list: unknown option --promote');
    await expect(cli(['list', '--stage', 'Prod'])).rejects.toThrow(
      '--stage: must be 1-32 lower-case letters, digits, "_" or "-", got "Prod"',
    );
    await expect(cli(['list'], { MODELFLEET_STAGE: 'prod!' })).rejects.toBeInstanceOf(UsageError);
  });

  it('prints per-command help, the overview and the version', async () => {
    const help = await cli(['canary', '--help']);
    expect(help).toContain('usage: modelfleet canary <model> <version> [options]');
    expect(help).toMatch(/--weight N\s+percent for the canary/);
    expect(help).toContain('--stage STAGE');
    expect(await cli(['help', 'publish'])).toContain('--force');
    const overview = await cli([]);
    expect(overview).toMatch(/^ {2}import-mlflow\s+Turn an MLflow model/m);
    expect(overview).toContain('"modelfleet <command> --help"');
    expect(await cli(['--version'])).toMatch(/^modelfleet \d+\.\d+\.\d+$/);
  });

  it('explains a public key given to sign', async () => {
    const dir = tempDir();
    const made = JSON.parse(await cli(['keygen', '--key-id', 'k1', '--out', dir, '--json']));
    const publicFile = path.join(dir, 'k1.pub');
    expect(readFileSync(publicFile, 'utf8')).toBe(made.publicKey);
    await expect(cli(['sign', dir, '--key', publicFile, '--key-id', 'k1'])).rejects.toThrow(
      `sign: ${publicFile} is a public key; sign with the private key keygen wrote next to it (${path.join(dir, 'k1')}.key)`,
    );
  });

  it('reports usage errors as UsageError', async () => {
    await expect(cli(['publish'])).rejects.toBeInstanceOf(UsageError);
    await expect(cli(['frobnicate'])).rejects.toThrow('unknown command "frobnicate"');
    await expect(cli(['promote', 'x', 'one'])).rejects.toThrow(
      'version: expected a positive integer, got "one"',
    );
    expect(await cli(['--help'])).toContain('usage: modelfleet');
  });
});
