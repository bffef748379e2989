import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, UsageError, VerifyFailedError } from '../../scripts/cli';
import { parseYamlSubset } from '../../scripts/lib/mlflow';
import { SAMPLES_DIR } from '../../scripts/lib/samples';
import { parseManifest } from '../../shared/repository/manifest';
import { ModelRepository } from '../../shared/repository/repository';
import { openStore } from '../../shared/store';
import { closeFakeGcs, irisPackage, repositoryLocation } from '../storage/stores';
import { removeTempDirs, tempDir } from '../support/fixtures';

afterAll(async () => {
  await closeFakeGcs();
  removeTempDirs();
});

async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  progress?: { isTTY: boolean; write(t: string): void },
) {
  const lines: string[] = [];
  await run(args, env, (text) => lines.push(text), progress === undefined ? {} : { progress });
  return lines.join('\n');
}

/** Environment that points the CLI at an Azurite repository, as an operator would set it. */
async function azureEnv(): Promise<NodeJS.ProcessEnv> {
  const { url, settings } = await repositoryLocation('azure');
  return {
    MODEL_REPOSITORY: url,
    AZURE_STORAGE_CONNECTION_STRING: settings.azureConnectionString,
    MODELFLEET_STAGE: 'prod',
  };
}

describe('list, show and verify on Azurite', () => {
  it('lists models with versions and what the stage serves, in text and --json', async () => {
    const env = await azureEnv();
    const iris = path.join(SAMPLES_DIR, 'iris', 'model.onnx');
    expect(await cli(['list'], env)).toBe(
      `repository ${env.MODEL_REPOSITORY}, stage prod\nno models in this repository`,
    );
    await cli(['publish', iris, '--name', 'iris', '--promote'], env);
    await cli(['publish', iris, '--name', 'iris', '--force'], env);
    await cli(['publish', iris, '--name', 'spare'], env);
    expect(JSON.parse(await cli(['list', '--json'], env))).toEqual([
      {
        model: 'iris',
        versions: [1, 2],
        stage: 'prod',
        serving: [{ name: 'primary', version: 1, weight: 100 }],
      },
      { model: 'spare', versions: [1], stage: 'prod', serving: null },
    ]);
    const text = await cli(['list'], env);
    expect(text.split('\n')).toEqual([
      `repository ${env.MODEL_REPOSITORY}, stage prod`,
      'MODEL  VERSIONS  STAGE prod       SHADOW  STICKY',
      'iris   1,2       primary=v1:100%  -       -',
      'spare  1         not deployed     -       -',
    ]);
  });

  it('shows a manifest, a deployment with its history, and names what is missing', async () => {
    const env = await azureEnv();
    const iris = path.join(SAMPLES_DIR, 'iris', 'model.onnx');
    await cli(['publish', iris, '--name', 'iris', '--promote'], env);
    await cli(['publish', iris, '--name', 'iris', '--force'], env);
    await cli(['promote', 'iris', '2'], { ...env, MODELFLEET_ACTOR: 'alice' });
    const manifest = parseManifest(JSON.parse(await cli(['show', 'iris', '2', '--json'], env)), 'show');
    expect(manifest.version).toBe(2);
    expect(await cli(['show', 'iris', '1'], env)).toContain('inputs\n    input: FP32 [-1,4]');
    const deployment = await cli(['show', 'iris'], env);
    expect(deployment).toContain('serving          primary=v2 (100%)');
    expect(deployment).toContain('last known good  primary=v1 (100%)');
    expect(deployment).toMatch(/promote 2 by alice/);
    await expect(cli(['show', 'iris', '9'], env)).rejects.toThrow('model "iris" has no version 9');
    await expect(cli(['show', 'nope'], env)).rejects.toThrow('model "nope" not found in the repository');
    await expect(cli(['show', 'iris'], { ...env, MODELFLEET_STAGE: 'dev' })).rejects.toThrow(
      'model "iris" is not deployed on stage "dev" (versions: 1, 2)',
    );
    await expect(cli(['show'], env)).rejects.toBeInstanceOf(UsageError);
  });

  it('verify re-hashes every artifact and fails, naming the damage, when one does not match', async () => {
    const env = await azureEnv();
    const repository = new ModelRepository(
      openStore(env['MODEL_REPOSITORY'] ?? '', {
        azureConnectionString: env['AZURE_STORAGE_CONNECTION_STRING'] ?? '',
      }),
    );
    const pkg = await irisPackage();
    await repository.publish(pkg);
    await repository.publish(pkg);
    expect(JSON.parse(await cli(['verify', '--json'], env))).toEqual([
      { model: 'iris', version: 1, status: 'ok', bytes: pkg.artifact.byteLength },
      { model: 'iris', version: 2, status: 'ok', bytes: pkg.artifact.byteLength },
    ]);
    await repository.store.put('iris/2/model.onnx', Buffer.concat([pkg.artifact, Buffer.from([0])]));
    await repository.store.put('iris/3/model.onnx', pkg.artifact);
    const lines: string[] = [];
    const failure = run(['verify'], env, (text) => lines.push(text));
    await expect(failure).rejects.toBeInstanceOf(VerifyFailedError);
    await expect(failure).rejects.toThrow('1 of 3 versions failed verification');
    expect(lines.join('\n').split('\n')).toEqual([
      'OK           iris@1',
      `CORRUPT      iris@2  iris version 2: model.onnx has ${pkg.artifact.byteLength + 1} bytes, the manifest says ${pkg.artifact.byteLength}`,
      'UNVERIFIABLE iris@3  no manifest.json: no sha256 to check against',
    ]);
    expect(await cli(['verify', 'iris', '1'], env)).toBe('OK           iris@1');
    await expect(cli(['verify', 'ghost'], env)).rejects.toThrow('model "ghost" not found in the repository');
  });

  it('names the setting when the repository URL is wrong', async () => {
    await expect(cli(['list', '--repository', 'az://acct'])).rejects.toThrow(
      '--repository: "az://acct" names no container',
    );
    await expect(cli(['list'], { MODEL_REPOSITORY: 'gs://b', GCS_API_ENDPOINT: 'nope' })).rejects.toThrow(
      'GCS_API_ENDPOINT: expected an http(s) URL',
    );
  });
});

describe('publish progress', () => {
  it('draws a progress bar on a terminal and nothing otherwise', async () => {
    const { url, settings } = await repositoryLocation('gcs');
    const env = { MODEL_REPOSITORY: url, GCS_API_ENDPOINT: settings.gcsApiEndpoint };
    const iris = path.join(SAMPLES_DIR, 'iris', 'model.onnx');
    const drawn: string[] = [];
    await cli(['publish', iris, '--name', 'iris'], env, { isTTY: true, write: (text) => drawn.push(text) });
    expect(drawn.join('')).toMatch(/uploading iris\/model\.onnx \[#{30}\] 100% 0\.0\/0\.0 MB\n$/);
    const quiet: string[] = [];
    await cli(['publish', iris, '--name', 'iris', '--force'], env, {
      isTTY: false,
      write: (text) => quiet.push(text),
    });
    await cli(['publish', iris, '--name', 'iris', '--json', '--force'], env, {
      isTTY: true,
      write: (text) => quiet.push(text),
    });
    expect(quiet).toEqual([]);
  });
});

const MLMODEL = `artifact_path: model
flavors:
  onnx:
    code: null
    data: model.onnx
    onnx_version: 1.16.1
    providers:
    - CUDAExecutionProvider
    - CPUExecutionProvider
  python_function:
    data: model.onnx
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.onnx
    python_version: 3.11.9
mlflow_version: 2.14.1
model_uuid: 5c0f1e3a2b
run_id: 0d6a9b1c
signature:
  inputs: '[{"type": "double", "name": "sepal_length", "required": true}, {"type": "double", "name": "sepal_width", "required": true}, {"type": "double", "name": "petal_length", "required": true}, {"type": "double", "name": "petal_width", "required": true}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
  params: null
utc_time_created: '2026-05-04 10:22:31.123456'
`;

function mlflowDir(mlmodel = MLMODEL, example?: unknown): string {
  const dir = path.join(tempDir('modelfleet-mlflow-'), 'iris-mlflow');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'MLmodel'), mlmodel);
  copyFileSync(path.join(SAMPLES_DIR, 'iris', 'model.onnx'), path.join(dir, 'model.onnx'));
  if (example !== undefined) writeFileSync(path.join(dir, 'input_example.json'), JSON.stringify(example));
  return dir;
}

describe('import-mlflow', () => {
  it('turns an MLflow ONNX model into a package: signature from the model, columns as features, example as sample', async () => {
    const dir = mlflowDir(MLMODEL, {
      columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
      data: [[5.1, 3.5, 1.4, 0.2]],
    });
    const out = path.join(path.dirname(dir), 'pkg');
    const printed = JSON.parse(await cli(['import-mlflow', dir, '--name', 'iris', '--out', out, '--json']));
    const manifest = parseManifest(
      JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8')),
      'import',
    );
    expect(printed.manifest).toEqual(manifest);
    expect(manifest.signature.inputs).toEqual([{ name: 'input', datatype: 'FP32', shape: [-1, 4] }]);
    expect(manifest.features).toEqual(['sepal_length', 'sepal_width', 'petal_length', 'petal_width']);
    expect(manifest.sample?.inputs).toEqual([
      { name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] },
    ]);
    expect(manifest.sample?.outputs.length).toBeGreaterThan(0);
    expect(manifest.source).toEqual({
      format: 'mlflow',
      mlflow_run_id: '0d6a9b1c',
      mlflow_model_uuid: '5c0f1e3a2b',
      mlflow_version: '2.14.1',
      mlflow_created: '2026-05-04 10:22:31.123456',
    });
    expect(
      readFileSync(path.join(out, 'model.onnx')).equals(readFileSync(path.join(dir, 'model.onnx'))),
    ).toBe(true);
    // The package publishes like any other.
    const repo = tempDir();
    expect(await cli(['publish', out, '--repository', repo])).toContain('published iris version 1');
  });

  it('refuses a directory without MLmodel, without an onnx flavor, or whose tensor signature disagrees with the model', async () => {
    await expect(cli(['import-mlflow', tempDir()])).rejects.toThrow('has no MLmodel file');
    const sklearn = mlflowDir('flavors:\n  sklearn:\n    pickled_model: model.pkl\n');
    await expect(cli(['import-mlflow', sklearn])).rejects.toThrow('has no onnx flavor (flavors: sklearn)');
    const wrong = mlflowDir(
      `flavors:\n  onnx:\n    data: model.onnx\nsignature:\n  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1, 5]}}]'\n`,
    );
    await expect(cli(['import-mlflow', wrong])).rejects.toThrow(
      "MLmodel signature disagrees with the ONNX model: input 0 (input): MLmodel says int64, the model takes FP32; input 0 (input): MLmodel shape [-1,5] differs from the model's [-1,4]",
    );
  });

  it('parses the YAML subset MLmodel files use and names the line of what it cannot', () => {
    expect(parseYamlSubset(MLMODEL, 'MLmodel')).toMatchObject({
      artifact_path: 'model',
      flavors: { onnx: { code: null, providers: ['CUDAExecutionProvider', 'CPUExecutionProvider'] } },
      utc_time_created: '2026-05-04 10:22:31.123456',
    });
    expect(parseYamlSubset("a: 'it''s'\nb: \"x\\ty\"\nc: [1, 2]\n", 'f')).toEqual({
      a: "it's",
      b: 'x\ty',
      c: [1, 2],
    });
    expect(() => parseYamlSubset('a: 1\n   b: 2\n', 'MLmodel')).toThrow('MLmodel:2: unexpected indentation');
    expect(() => parseYamlSubset('just text\n', 'MLmodel')).toThrow('MLmodel:1: expected "key: value"');
  });
});
