/**
 * Section 7: the server's inference workers (scripts/serve.ts from dist/, as `npm start` and the
 * image run it). Throughput of a CPU-bound model (≈ 20 ms a run, 8 connections) at 1, 2 and 4
 * workers, and GET /v2/health/live latency (probed every 10 ms on its own connection) while 4
 * connections keep a ≈ 100 ms model busy, with the workers and with inference inline.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { calibratedSlowModel, SLOW_REQUEST } from '../scripts/lib/slow-model';
import { packageModel } from '../shared/control/packaging';
import { promote } from '../shared/repository/deployment';
import { ModelRepository } from '../shared/repository/repository';
import { FsModelStore } from '../shared/store';
import { BENCH_API_KEY, BENCH_SECURITY_ENV, STAGE } from './models';
import { type Summary, summarize } from './stats';

export interface WorkerThroughputRow {
  workers: number;
  meanLatencyMs: number;
  requestsPerSecond: number;
  errors: number;
}

export interface HealthUnderLoadRow {
  workers: number;
  /** Mean latency of the slow model's predictions. */
  meanLatencyMs: number;
  health: Summary;
  predictionsPerSecond: number;
}

async function startServer(repoDir: string, workers: number): Promise<{ child: ChildProcess; base: string }> {
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'scripts', 'serve.js')], {
    env: {
      ...process.env,
      ...BENCH_SECURITY_ENV,
      MODEL_REPOSITORY: repoDir,
      MODELFLEET_STAGE: STAGE,
      PORT: '0',
      HOST: '127.0.0.1',
      INFERENCE_WORKERS: String(workers),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const base = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-4000);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${seen}`)));
  });
  return { child, base };
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function load(url: string, connections: number, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        body: SLOW_REQUEST,
        headers: { 'content-type': 'application/json', 'x-api-key': BENCH_API_KEY },
        connections,
        duration: seconds,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

function probe(base: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const at = performance.now();
    const req = request(`${base}/v2/health/live`, { agent }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve(performance.now() - at) : reject(new Error(`${res.statusCode}`)),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function repositoryWith(models: Record<string, Uint8Array>): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-bench-workers-'));
  const repository = new ModelRepository(new FsModelStore(dir));
  for (const [name, artifact] of Object.entries(models)) {
    const version = await repository.publish(await packageModel({ name, artifact }));
    await repository.updateDeployment(name, STAGE, (current) =>
      promote(current, { model: name, stage: STAGE, version }, new Date(), 'bench'),
    );
  }
  return dir;
}

export async function measureWorkers(
  seconds: number,
): Promise<{ throughput: WorkerThroughputRow[]; health: HealthUnderLoadRow[] }> {
  const dir = await repositoryWith({
    cpu20: await calibratedSlowModel(20),
    slow100: await calibratedSlowModel(100),
  });
  try {
    const throughput: WorkerThroughputRow[] = [];
    for (const workers of [1, 2, 4]) {
      const { child, base } = await startServer(dir, workers);
      try {
        await load(`${base}/v2/models/cpu20/infer`, 8, 1);
        const result = await load(`${base}/v2/models/cpu20/infer`, 8, seconds);
        throughput.push({
          workers,
          meanLatencyMs: result.latency.average,
          requestsPerSecond: result.requests.total / result.duration,
          errors: result.errors + result.timeouts + result.non2xx,
        });
      } finally {
        await stop(child);
      }
    }
    const health: HealthUnderLoadRow[] = [];
    for (const workers of [os.availableParallelism(), 0]) {
      const { child, base } = await startServer(dir, workers);
      try {
        const busy = load(`${base}/v2/models/slow100/infer`, 4, seconds);
        const agent = new Agent({ keepAlive: true, maxSockets: 1 });
        await new Promise((resolve) => setTimeout(resolve, 300));
        const samples: number[] = [];
        const end = performance.now() + (seconds - 0.6) * 1000;
        while (performance.now() < end) {
          samples.push(await probe(base, agent));
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        agent.destroy();
        const result = await busy;
        health.push({
          workers,
          meanLatencyMs: result.latency.average,
          health: summarize(samples),
          predictionsPerSecond: result.requests.total / result.duration,
        });
      } finally {
        await stop(child);
      }
    }
    return { throughput, health };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
