/**
 * Section 3: cold start. Fresh `node` processes, spawned one after another (interleaved), each
 * timed from spawn to its first successful prediction, with the model pulled from an S3 API
 * server (s3rver) on 127.0.0.1 and no cache.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { s3Client } from './cold/s3';
import { BENCH_API_KEY, BENCH_SECURITY_ENV, STAGE } from './models';
import { summarize } from './stats';

export interface ColdRow {
  path: string;
  /** How the code is loaded; rows compare with the naive row loaded the same way. */
  loading: 'bundle' | 'node_modules';
  runs: number;
  totalMs: number;
  /** Median of each phase the process reported, in ms. */
  phases: Record<string, number>;
}

interface ColdSpec {
  name: string;
  loading: 'bundle' | 'node_modules';
  script: string;
  env: NodeJS.ProcessEnv;
  /** An environment variable set to a new empty directory for each run (the artifact cache). */
  emptyDir?: string;
}

function runOnce(spec: ColdSpec): Promise<{ wall: number; phases: Record<string, number> }> {
  return new Promise((resolve, reject) => {
    const fresh = spec.emptyDir === undefined ? undefined : mkdtempSync(path.join(os.tmpdir(), 'mf-cold-'));
    const cleanup = () => fresh !== undefined && rmSync(fresh, { recursive: true, force: true });
    const started = performance.now();
    const child = spawn(process.execPath, [path.resolve(__dirname, spec.script)], {
      env: {
        ...process.env,
        ...spec.env,
        ...(fresh === undefined ? {} : { [spec.emptyDir as string]: fresh }),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.startsWith('{"startup"'));
      if (line !== undefined) {
        const wall = performance.now() - started;
        child.kill();
        cleanup();
        resolve({ wall, phases: JSON.parse(line) as Record<string, number> });
      }
    });
    child.once('exit', (code) => {
      cleanup();
      if (!output.includes('"startup"')) reject(new Error(`${spec.name} exited with ${code}: ${output}`));
    });
  });
}

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * The packages the esbuild plugin leaves out of the AWS functions, read from serverless.yml so the
 * bench bundle is the deployed one: the `exclude:` list under `custom.esbuild`.
 */
function excludedPackages(): string[] {
  const yml = readFileSync(path.join(ROOT, 'serverless.yml'), 'utf8');
  const block = /\n {4}exclude:\n((?: {6}(?:- .*|#.*)\n)+)/.exec(yml)?.[1];
  if (block === undefined) throw new Error('serverless.yml: custom.esbuild.exclude not found');
  return [...block.matchAll(/^ {6}- "?([^"\n]+?)"?\s*$/gm)].map((m) => m[1] as string);
}

/**
 * The AWS handler bundled as serverless-esbuild bundles it (serverless.yml custom.esbuild: bundle,
 * node20, CommonJS, not minified, the excluded packages left as requires), and the naive script
 * bundled the same way, so that both sides of the comparison pay the same kind of module load.
 * Written under dist/ so that `require('onnxruntime-node')` finds this checkout's node_modules.
 */
function buildBundles(): { handler: string; naive: string } {
  const esbuild = require('esbuild') as typeof import('esbuild');
  const outdir = path.join(ROOT, 'dist', 'bench-bundles');
  const common = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: false,
    logLevel: 'warning',
    external: excludedPackages(),
  } as const;
  const handler = path.join(outdir, 'handler.js');
  const naive = path.join(outdir, 'naive.js');
  esbuild.buildSync({
    ...common,
    entryPoints: [path.join(ROOT, 'functions/aws/index.ts')],
    outfile: handler,
  });
  // The naive function bundles its own SDK: only the native addon stays out.
  esbuild.buildSync({
    ...common,
    entryPoints: [path.join(ROOT, 'bench/cold/naive.ts')],
    outfile: naive,
    external: ['onnxruntime-node'],
  });
  return { handler, naive };
}

export async function measureColdStart(
  repositoryDir: string,
  model: { name: string; version: number; shape: number[]; body: string },
  runs: number,
): Promise<ColdRow[]> {
  const S3rver = require('s3rver') as new (
    options: Record<string, unknown>,
  ) => {
    run(): Promise<{ port: number }>;
    close(): Promise<void>;
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-s3rver-'));
  const bucket = 'models';
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  try {
    const endpoint = `http://127.0.0.1:${port}`;
    process.env['BENCH_S3_ENDPOINT'] = endpoint;
    process.env['BENCH_S3_BUCKET'] = bucket;
    const client = s3Client();
    const prefix = `repo/${model.name}/${model.version}`;
    // The model's whole subtree (versions and deployments): modelfleet reads it as a repository at
    // s3://bucket/repo; the naive scripts read only the artifact.
    const modelDir = path.join(repositoryDir, model.name);
    for (const file of readdirSync(modelDir, { recursive: true, encoding: 'utf8' })) {
      const full = path.join(modelDir, file);
      if (!statSync(full).isFile()) continue;
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `repo/${model.name}/${file.split(path.sep).join('/')}`,
          Body: readFileSync(full),
        }),
      );
    }
    client.destroy();
    const common = {
      BENCH_S3_ENDPOINT: endpoint,
      BENCH_S3_BUCKET: bucket,
      BENCH_INPUT_SHAPE: JSON.stringify(model.shape),
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    };
    const bundles = buildBundles();
    const modelfleetS3 = {
      ...BENCH_SECURITY_ENV,
      MODEL_REPOSITORY: `s3://${bucket}/repo`,
      S3_ENDPOINT: endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      MODELFLEET_STAGE: STAGE,
      BENCH_MODEL: model.name,
      BENCH_BODY: model.body,
      BENCH_API_KEY,
    };
    const specs: ColdSpec[] = [
      {
        name: 'naive sequential (S3), bundled',
        loading: 'bundle',
        script: bundles.naive,
        env: { ...common, BENCH_MODEL_KEY: `${prefix}/model.onnx` },
      },
      {
        name: 'modelfleet AWS handler as deployed: bundle, S3 repository, empty cache',
        loading: 'bundle',
        script: 'cold/bundle.js',
        env: { ...modelfleetS3, BENCH_BUNDLE: bundles.handler },
        emptyDir: 'ARTIFACT_CACHE_DIR',
      },
      {
        name: 'naive sequential (S3), from node_modules',
        loading: 'node_modules',
        script: 'cold/naive.js',
        env: { ...common, BENCH_MODEL_KEY: `${prefix}/model.onnx` },
      },
      {
        name: 'modelfleet AWS handler from dist/ and node_modules, S3 repository, empty cache',
        loading: 'node_modules',
        script: 'cold/modelfleet.js',
        env: modelfleetS3,
        emptyDir: 'ARTIFACT_CACHE_DIR',
      },
      {
        name: 'modelfleet AWS handler from dist/ and node_modules, folder repository',
        loading: 'node_modules',
        script: 'cold/modelfleet.js',
        env: {
          ...BENCH_SECURITY_ENV,
          MODEL_REPOSITORY: repositoryDir,
          MODELFLEET_STAGE: STAGE,
          BENCH_MODEL: model.name,
          BENCH_BODY: model.body,
          BENCH_API_KEY,
        },
        emptyDir: 'ARTIFACT_CACHE_DIR',
      },
    ];
    const samples = new Map(
      specs.map((spec) => [spec.name, [] as { wall: number; phases: Record<string, number> }[]]),
    );
    await runOnce(specs[0] as ColdSpec); // page cache warm for every variant alike
    for (let i = 0; i < runs; i++) {
      for (const spec of specs) samples.get(spec.name)?.push(await runOnce(spec));
    }
    return specs.map((spec) => {
      const got = samples.get(spec.name) ?? [];
      const phases: Record<string, number> = {};
      for (const key of Object.keys(got[0]?.phases ?? {})) {
        phases[key] = summarize(got.map((s) => s.phases[key] ?? Number.NaN)).p50;
      }
      return {
        path: spec.name,
        loading: spec.loading,
        runs: got.length,
        totalMs: summarize(got.map((s) => s.wall)).p50,
        phases,
      };
    });
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
