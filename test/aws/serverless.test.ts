import { statSync } from 'node:fs';
import path from 'node:path';
import { removeTempDirs, sampleRepository, tempDir } from '../support/fixtures';
import { runToEnd } from '../support/processes';

// Both commands use serverless-esbuild's .esbuild/ work folder, so they run one after the other here.
jest.setTimeout(180_000);
afterAll(removeTempDirs);

/** No AWS account: dummy credentials are never used by package or invoke local. */
const SLS_ENV = {
  SLS_TELEMETRY_DISABLED: '1',
  AWS_ACCESS_KEY_ID: 'dummy-for-offline-use',
  AWS_SECRET_ACCESS_KEY: 'dummy-for-offline-use',
  ONNXRUNTIME_NODE_INSTALL: 'skip',
};

describe('serverless (osls) without a cloud account', () => {
  it('sls invoke local returns a prediction from a local repository', async () => {
    const repository = await sampleRepository();
    const { code, stdout, stderr } = await runToEnd(
      'npx',
      ['sls', 'invoke', 'local', '-f', 'infer', '--path', 'test/events/http-api-v2-infer.json'],
      { ...SLS_ENV, MODEL_REPOSITORY: repository.store.url },
    );
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const result = JSON.parse(stdout.slice(stdout.indexOf('\n{') + 1));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({
      model_name: 'iris',
      outputs: [
        { name: 'probabilities', shape: [1, 3] },
        { name: 'label', data: [0] },
      ],
    });
  });

  it('sls package --stage dev builds an inference zip under 30 MB with only linux-x64 onnxruntime', async () => {
    const out = tempDir('modelfleet-sls-');
    const { code, stdout, stderr } = await runToEnd(
      'npx',
      ['sls', 'package', '--stage', 'dev', '--package', out],
      SLS_ENV,
    );
    expect({ code, output: code === 0 ? '' : stdout + stderr }).toEqual({ code: 0, output: '' });
    const zip = path.join(out, 'infer.zip');
    expect(statSync(zip).size).toBeLessThan(30 * 1024 * 1024);
    const listing = await runToEnd('unzip', ['-l', zip], {});
    expect(listing.stdout).toContain(
      'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    );
    expect(listing.stdout).toContain('functions/aws/handler.js');
    expect(listing.stdout).not.toMatch(/napi-v6\/(darwin|win32|linux\/arm64)/);
  });
});
