import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { removeTempDirs, tempDir } from '../support/fixtures';

// The plugin is CommonJS (serverless loads it without a build). Its preflight runs before any
// bundling, so these checks are exercised here on a minimal stand-in for the serverless object.
const Plugin = require('../../infra/aws/modelfleet-plugin.js') as new (
  serverless: unknown,
  options: unknown,
  utils: unknown,
) => { preflight(): void };

afterAll(removeTempDirs);

class ServerlessError extends Error {}

function plugin(options: {
  servicePath: string;
  architecture: string;
  scaling?: { min: number; max: number };
  type?: string;
}) {
  const deploymentSettings = {
    type: options.type ?? 'AllAtOnce',
    alias: 'live',
    preTrafficHook: 'preTrafficHook',
  };
  const functions: Record<string, Record<string, unknown>> = {
    infer: { reservedConcurrency: 10, deploymentSettings },
  };
  const serverless = {
    classes: { Error: ServerlessError },
    config: { servicePath: options.servicePath },
    getProvider: () => ({}),
    service: {
      custom: {
        modelfleet: {
          architecture: options.architecture,
          inferenceFunctions: ['infer'],
          scaling: options.scaling ?? { min: 0, max: 0 },
        },
      },
      getFunction: (name: string) => functions[name],
    },
  };
  return new Plugin(serverless, {}, { log: { notice: () => {} } });
}

function checkout(architectures: string[]): string {
  const root = tempDir('modelfleet-checkout-');
  for (const arch of architectures) {
    const dir = path.join(root, 'node_modules/onnxruntime-node/bin/napi-v6/linux', arch);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'onnxruntime_binding.node'), '');
  }
  return root;
}

describe('serverless plugin preflight', () => {
  it('accepts arm64 when the linux/arm64 onnxruntime binaries are installed', () => {
    expect(() =>
      plugin({ servicePath: checkout(['x64', 'arm64']), architecture: 'arm64' }).preflight(),
    ).not.toThrow();
  });

  it('refuses arm64 before packaging when its binaries are missing, naming the folder', () => {
    const root = checkout(['x64']);
    const run = () => plugin({ servicePath: root, architecture: 'arm64' }).preflight();
    expect(run).toThrow(ServerlessError);
    expect(run).toThrow(
      `architecture arm64 needs ${root}/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64`,
    );
  });

  it('accepts CodeDeploy deployment types and refuses a misspelt one', () => {
    const root = checkout(['x64']);
    const type = (value: string) => () =>
      plugin({ servicePath: root, architecture: 'x86_64', type: value }).preflight();
    expect(type('Linear10PercentEvery1Minute')).not.toThrow();
    expect(type('Canary10Percent5Minutes')).not.toThrow();
    expect(type('Canary10Percent5Minute')).toThrow(
      /deploymentType\) must be one of .*got "Canary10Percent5Minute"/,
    );
  });

  it('refuses an unknown architecture', () => {
    expect(() => plugin({ servicePath: checkout(['x64']), architecture: 'i386' }).preflight()).toThrow(
      'architecture must be x86_64 or arm64, got "i386"',
    );
  });

  it('reads numbers given as --param strings, and names a setting that is not a number', () => {
    const root = checkout(['x64']);
    const scaling = (max: unknown) => ({ min: '2', max }) as unknown as { min: number; max: number };
    expect(() =>
      plugin({ servicePath: root, architecture: 'x86_64', scaling: scaling('8') }).preflight(),
    ).not.toThrow();
    expect(() =>
      plugin({ servicePath: root, architecture: 'x86_64', scaling: scaling('lots') }).preflight(),
    ).toThrow('custom.modelfleet.scaling.max must be a number, got "lots"');
  });

  it('refuses a provisioned concurrency range that cannot work', () => {
    const root = checkout(['x64']);
    expect(() =>
      plugin({ servicePath: root, architecture: 'x86_64', scaling: { min: 0, max: 5 } }).preflight(),
    ).toThrow('scaling: need 1 <= min (0) <= max (5)');
    expect(() =>
      plugin({ servicePath: root, architecture: 'x86_64', scaling: { min: 2, max: 20 } }).preflight(),
    ).toThrow('scaling.max (20) exceeds infer.reservedConcurrency (10)');
  });
});
