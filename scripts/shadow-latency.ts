/**
 * What a shadow adds to the primary's latency on the local server: the same iris request over
 * HTTP (keep-alive) with no shadow, a 100% shadow in `background` mode and in `inline` mode.
 * Not part of `npm test`; run `npm run bench:shadow` (REQUESTS, CONCURRENCY to change the load).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createLocalServer } from '../functions/local/server';
import { createApp } from '../shared/app';
import { parseConfig } from '../shared/config';
import { promote, setShadow } from '../shared/deployment';
import { silentLogger } from '../shared/log';
import type { RequestMetricEvent } from '../shared/metrics';
import { ModelRepository } from '../shared/repository';
import { FsModelStore } from '../shared/store';
import { publishMissingSamples, SAMPLES_DIR } from './lib/samples';

const REQUESTS = Number(process.env['REQUESTS'] ?? 3000);
const CONCURRENCY = Number(process.env['CONCURRENCY'] ?? 1);
const WARMUP = 300;

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-shadow-'));
  try {
    const repository = new ModelRepository(new FsModelStore(dir));
    await publishMissingSamples(repository, ['local']);
    // Version 2 is the same artifact: the shadow costs what the primary costs.
    const manifest = await repository.readManifest('iris', 1);
    await repository.publish({ manifest, artifact: await repository.readArtifact('iris', 1) });
    const body = readFileSync(path.join(SAMPLES_DIR, 'iris', 'request.json'));
    const rows: string[] = [];
    for (const mode of ['off', 'background', 'inline'] as const) {
      await repository.updateDeployment('iris', 'local', (current) => {
        const base = promote(current, { model: 'iris', stage: 'local', version: 1 }, new Date());
        return mode === 'off' ? base : setShadow(base, { version: 2, sampleRate: 1 }, new Date());
      });
      const events: RequestMetricEvent[] = [];
      const config = {
        ...parseConfig({}),
        repository: dir,
        shadowMode: mode === 'inline' ? ('inline' as const) : ('background' as const),
      };
      const app = createApp({
        config,
        store: repository.store,
        log: silentLogger,
        metrics: (e) => events.push(e),
      });
      const server = createLocalServer(app);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
      const send = () => post(agent, port, body);
      for (let i = 0; i < WARMUP; i++) await send();
      const latencies: number[] = [];
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next++ < REQUESTS) latencies.push(await send());
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      await app.settled();
      agent.destroy();
      await new Promise((resolve) => server.close(resolve));
      const shadowMs = events.slice(WARMUP).flatMap((e) => (e.shadowMs === undefined ? [] : [e.shadowMs]));
      latencies.sort((a, b) => a - b);
      const at = (q: number) =>
        (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(3);
      rows.push(
        `| ${mode.padEnd(10)} | ${at(0.5)} | ${at(0.9)} | ${at(0.99)} | ${(REQUESTS / seconds).toFixed(0)} | ${shadowMs.length === 0 ? '-' : mean(shadowMs).toFixed(3)} |`,
      );
    }
    console.log(
      `iris, ${REQUESTS} requests, concurrency ${CONCURRENCY}, node ${process.version}, ${os.cpus().length} cpus`,
    );
    console.log('| shadow     | p50 ms | p90 ms | p99 ms | req/s | shadow work ms (mean) |');
    console.log('| ---------- | ------ | ------ | ------ | ----- | --------------------- |');
    for (const row of rows) console.log(row);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function post(agent: Agent, port: number, body: Buffer): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v2/models/iris/infer',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(performance.now() - started)
            : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
