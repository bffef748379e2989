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
  runs: number;
  totalMs: number;
  /** Median of each phase the process reported, in ms. */
  phases: Record<string, number>;
}

interface ColdSpec {
  name: string;
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
    const child = spawn(process.execPath, [path.join(__dirname, spec.script)], {
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
    const specs: ColdSpec[] = [
      {
        name: 'naive sequential (S3)',
        script: 'cold/naive.js',
        env: { ...common, BENCH_MODEL_KEY: `${prefix}/model.onnx` },
      },
      {
        name: 'overlapped download (S3, bench prototype)',
        script: 'cold/overlapped.js',
        env: { ...common, BENCH_MODEL_PREFIX: prefix },
      },
      {
        name: 'modelfleet AWS handler (S3 repository, empty cache)',
        script: 'cold/modelfleet.js',
        env: {
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
        },
        emptyDir: 'ARTIFACT_CACHE_DIR',
      },
      {
        name: 'modelfleet AWS handler (folder repository)',
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
      return { path: spec.name, runs: got.length, totalMs: summarize(got.map((s) => s.wall)).p50, phases };
    });
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
