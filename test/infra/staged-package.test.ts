import { readFileSync } from 'node:fs';
import path from 'node:path';
import { publishMissingSamples } from '../../scripts/lib/samples';
import { ModelRepository } from '../../shared/repository/repository';
import { hashApiKey } from '../../shared/security/api-keys';
import { openStore } from '../../shared/store';
import { closeFakeGcs, irisRequest, repositoryLocation } from '../storage/stores';
import { removeTempDirs, tempDir } from '../support/fixtures';
import { ROOT } from '../support/processes';
import { type Cloud, type RunningStagedApp, stagedApp, stageModule, stageOnce, startStaged } from './staged';

jest.setTimeout(120_000);

const MB = 1024 * 1024;
const running: RunningStagedApp[] = [];

afterAll(async () => {
  for (const app of running.splice(0)) await app.stop();
  await closeFakeGcs();
  removeTempDirs();
});

// Independent of the staging script's own FORBIDDEN list: what the issue names, spelled out here.
const MUST_NOT_SHIP: [string, RegExp][] = [
  ['darwin onnxruntime binaries', /onnxruntime-node\/bin\/.*darwin/],
  ['win32 onnxruntime binaries', /onnxruntime-node\/bin\/.*win32/],
  ['arm64 onnxruntime binaries', /onnxruntime-node\/bin\/.*arm64/],
  ['test files', /(^|\/)(test|tests|__tests__)\/|\.test\.[jt]s$/],
  ['bench files', /(^|\/)bench\//],
  ['TypeScript sources', /\.ts$/],
  [
    'dev dependencies',
    /node_modules\/(jest|ts-jest|typescript|esbuild|@biomejs|serverless|azurite|s3rver|supertest)\//,
  ],
  ['the AWS SDK', /@aws-sdk\//],
  ['a bundled model repository', /model-repository\//],
];

describe.each<[Cloud, RegExp[]]>([
  ['azure', [/^host\.json$/, /^vendor\/node_modules\/@azure\/functions\/dist\/azure-functions\.js$/]],
  ['gcp', []],
])('%s staged package (scripts/stage-function.cjs)', (cloud, cloudSpecific) => {
  let entries: string[];

  beforeAll(async () => {
    entries = stageModule.zipEntries((await stagedApp(cloud)).zipFile);
  });

  it('stays within the Lambda size limits (50 MB zipped, 250 MB unpacked) and far below them', async () => {
    const app = await stagedApp(cloud);
    expect(app.zipBytes).toBeLessThan(50 * MB);
    expect(app.unpackedBytes).toBeLessThan(250 * MB);
    // Everything but the bundle and linux/x64 onnxruntime is small: a stray platform's binaries
    // (≈ 40 MB each) or a copied node_modules would blow through this at once.
    expect(app.unpackedBytes).toBeLessThan(70 * MB);
    const { log } = await stageOnce(cloud);
    expect(log.join('\n')).toMatch(
      new RegExp(`${cloud}/modelfleet\\.zip: [\\d.]+ MB zipped, [\\d.]+ MB unpacked`),
    );
  });

  it('holds the bundle, its package.json and linux/x64 onnxruntime, and nothing it must not', () => {
    for (const wanted of [
      /^index\.js$/,
      /^package\.json$/,
      /^vendor\/node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/onnxruntime_binding\.node$/,
      /^vendor\/node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64\/libonnxruntime\.so\.1$/,
      /^vendor\/node_modules\/onnxruntime-common\/dist\/cjs\/index\.js$/,
      ...cloudSpecific,
    ]) {
      expect(entries.filter((entry) => wanted.test(entry))).toHaveLength(1);
    }
    for (const [what, pattern] of MUST_NOT_SHIP) {
      expect({ what, found: entries.filter((entry) => pattern.test(entry)) }).toEqual({ what, found: [] });
    }
    // Only the packages that cannot be bundled are copied; everything else is in index.js.
    const packages = new Set(
      entries.flatMap((entry) => /^vendor\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(entry)?.[1] ?? []),
    );
    expect([...packages].sort()).toEqual(
      cloud === 'azure'
        ? [
            '@azure/functions',
            '@azure/functions-extensions-base',
            'cookie',
            'onnxruntime-common',
            'onnxruntime-node',
            'zod',
          ]
        : ['onnxruntime-common', 'onnxruntime-node', 'zod'],
    );
  });

  it('declares no dependency but what the platform must install, and points main at the bundle', async () => {
    const pkg = JSON.parse(readFileSync(path.join((await stagedApp(cloud)).dir, 'package.json'), 'utf8'));
    expect(pkg.main).toBe('index.js');
    expect(pkg.devDependencies).toBeUndefined();
    const root = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    if (cloud === 'gcp') {
      // The buildpack installs this and starts its CLI; the bundle registers with that instance.
      expect(pkg.dependencies).toEqual({
        '@google-cloud/functions-framework': root.dependencies['@google-cloud/functions-framework'],
      });
    } else {
      expect(pkg.dependencies).toBeUndefined();
    }
  });
});

it('refuses to stage a package over the size limit, naming it', async () => {
  await expect(
    stageModule.stage('azure', {
      out: tempDir('modelfleet-stage-limit-'),
      log: () => {},
      limits: { zipBytes: 1 * MB },
    }),
  ).rejects.toThrow(/modelfleet\.zip is [\d.]+ MB zipped; the limit is 1\.0 MB/);
});

it('flags other platforms, tests and sources in the staging script as well', () => {
  const bad = [
    'vendor/node_modules/onnxruntime-node/bin/napi-v6/darwin/arm64/onnxruntime_binding.node',
    'vendor/node_modules/onnxruntime-node/bin/napi-v6/win32/x64/onnxruntime.dll',
    'vendor/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/libonnxruntime.so.1',
    'test/conformance/cases.js',
    'bench/run.js',
    'shared/app.ts',
  ];
  const flagged = bad.filter((entry) => stageModule.FORBIDDEN.some((pattern) => pattern.test(entry)));
  expect(flagged).toEqual(bad);
  const fine = 'vendor/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node';
  expect(stageModule.FORBIDDEN.some((pattern) => pattern.test(fine))).toBe(false);
});

// The store SDKs are bundled (not copied): prove the bundled Azure and GCS clients really serve a
// repository, against Azurite and the GCS JSON API fake, through the staged entry points.
describe.each<[Cloud, 'azure' | 'gcs']>([
  ['azure', 'azure'],
  ['gcp', 'gcs'],
])('%s staged app reading the model repository from its cloud store', (cloud, kind) => {
  it('answers health and an iris inference from the bundled store driver', async () => {
    const { url, settings } = await repositoryLocation(kind);
    const repository = new ModelRepository(openStore(url, settings));
    await publishMissingSamples(repository, ['dev']);
    // iris version 2: version 1's files with a manifest the hand-written checks refuse. Only the
    // schemas can then say why, with zod required from vendor/ (it is not in the bundle).
    for (const file of ['model.onnx', 'manifest.json']) {
      const read = await repository.store.get(`iris/1/${file}`);
      if (read.status !== 'ok') throw new Error(`no iris/1/${file}`);
      const body =
        file === 'manifest.json'
          ? Buffer.from(JSON.stringify({ ...JSON.parse(read.body.toString()), version: 2, createdAt: 42 }))
          : read.body;
      await repository.store.put(`iris/2/${file}`, body);
    }
    const key = 'staged-store-key';
    const env: NodeJS.ProcessEnv = {
      MODEL_REPOSITORY: url,
      MODELFLEET_STAGE: 'dev',
      API_KEYS: `staged:predict+admin:${hashApiKey(key)}`,
      ...(settings.azureConnectionString === undefined
        ? {}
        : { AZURE_STORAGE_CONNECTION_STRING: settings.azureConnectionString }),
      ...(settings.gcsApiEndpoint === undefined ? {} : { GCS_API_ENDPOINT: settings.gcsApiEndpoint }),
    };
    const app = await startStaged(cloud, (await stagedApp(cloud)).dir, env);
    running.push(app);
    const live = await fetch(`${app.base}/v2/health/ready`);
    expect(live.status).toBe(200);
    const inferred = await fetch(`${app.base}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify(irisRequest),
    });
    const body = (await inferred.json()) as { model_name?: string; outputs?: unknown[] };
    expect({ status: inferred.status, model: body.model_name }).toEqual({ status: 200, model: 'iris' });
    expect(body.outputs?.length).toBeGreaterThan(0);
    const refused = await fetch(`${app.base}/v2/models/iris/versions/2/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key },
      body: JSON.stringify(irisRequest),
    });
    expect(await refused.json()).toMatchObject({
      error: 'model "iris" version 2 has an invalid manifest and will not be served',
    });
    // The metric line of the request went out in the cloud's format.
    const format = cloud === 'azure' ? /"event":"modelfleet\.request"/ : /"type":"modelfleet\.request"/;
    expect(app.output()).toMatch(format);
    if (cloud === 'azure') {
      // What the host would register: one anonymous catch-all HTTP function.
      expect(app.output()).toContain(
        '{"kind":"http","name":"modelfleet","route":"{*path}","authLevel":"anonymous"',
      );
    }
  });
});

// infra/gcp/stream/ deploys stream.zip as a function without an event trigger, pushed to by its
// own Pub/Sub subscription: the staged bundle must score what that subscription posts.
it('gcp staged stream app scores a raw Pub/Sub push under the framework CLI, results to the store', async () => {
  const { url, settings } = await repositoryLocation('gcs');
  const store = openStore(url, settings);
  await publishMissingSamples(new ModelRepository(store), ['dev']);
  const app = await startStaged(
    'gcp',
    (await stagedApp('gcp', 'stream')).dir,
    {
      MODEL_REPOSITORY: url,
      MODELFLEET_STAGE: 'dev',
      GCS_API_ENDPOINT: settings.gcsApiEndpoint,
      STREAM_MODEL: 'iris',
      STREAM_SINK: 'store:predictions',
    },
    'modelfleetStream',
  );
  running.push(app);
  const pushed = await fetch(`${app.base}/projects/p1/topics/modelfleet-stream-records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      message: {
        data: Buffer.from(JSON.stringify(irisRequest)).toString('base64'),
        messageId: 'staged-1',
        publishTime: '2026-11-30T12:00:00.000Z',
      },
      subscription: 'projects/p1/subscriptions/modelfleet-stream-records',
    }),
  });
  expect(pushed.status).toBe(204);
  const lines: { id: string; model_name: string }[] = [];
  const walk = async (prefix: string): Promise<void> => {
    for (const name of await store.list(prefix)) {
      if (!name.endsWith('.jsonl')) await walk(`${prefix}/${name}`);
      else {
        const object = await store.get(`${prefix}/${name}`);
        if (object.status === 'ok')
          lines.push(
            ...object.body
              .toString('utf8')
              .trim()
              .split('\n')
              .map((l) => JSON.parse(l)),
          );
      }
    }
  };
  await walk('predictions');
  expect(lines).toEqual([expect.objectContaining({ id: 'staged-1', model_name: 'iris' })]);
  expect(app.output()).toContain('Signature type: cloudevent');
});
