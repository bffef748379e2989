/**
 * What a shadow adds to the primary's latency on the local server: the same iris request over
 * keep-alive HTTP to three servers — no shadow, a 100% shadow in `background` mode and one in
 * `inline` mode — taking turns in blocks of sequential requests. Then the same comparison (no
 * shadow vs `inline`, the mode the cloud functions run) through each cloud adapter: the AWS
 * handler with HTTP API events, the Azure handler with HttpRequest/InvocationContext, and the GCP
 * function in functions-framework over HTTP. Not part of `npm test`: `npm run bench:shadow`
 * (REQUESTS per mode, default 5000; THINK_MS pause between requests, default 0).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createHandler } from '../functions/aws/handler';
import { createAzureHandler } from '../functions/azure/handler';
import { createGcpFunction } from '../functions/gcp/handler';
import { createLocalServer } from '../functions/local/handler';
import { type App, createApp } from '../shared/app';
import { parseConfig } from '../shared/config';
import { promote, setShadow } from '../shared/repository/deployment';
import { ModelRepository } from '../shared/repository/repository';
import { FsModelStore } from '../shared/store';
import { silentLogger } from '../shared/telemetry/log';
import type { RequestMetricEvent } from '../shared/telemetry/metric-event';
import { publishMissingSamples, SAMPLES_DIR } from './lib/samples';

const REQUESTS = Number(process.env['REQUESTS'] ?? 5000);
const WARMUP = 300;
const BLOCK = 250;
/** Pause between a response and the next request: 0 is a saturating client, > 0 leaves idle gaps. */
const THINK_MS = Number(process.env['THINK_MS'] ?? 0);
const MODES = ['off', 'background', 'inline'] as const;
type Mode = (typeof MODES)[number];

interface Target {
  mode: Mode;
  app: App;
  port: number;
  agent: Agent;
  close: () => Promise<void>;
  events: RequestMetricEvent[];
  latencies: number[];
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-shadow-'));
  const targets: Target[] = [];
  try {
    const repository = new ModelRepository(new FsModelStore(dir));
    // Stage "plain" serves iris 1 alone; stage "shadowed" also shadows every request on version 2,
    // which is the same artifact, so the shadow costs what the primary costs.
    await publishMissingSamples(repository, ['plain', 'shadowed']);
    const manifest = await repository.readManifest('iris', 1);
    await repository.publish({ manifest, artifact: await repository.readArtifact('iris', 1) });
    await repository.updateDeployment('iris', 'shadowed', (current) =>
      setShadow(
        current ?? promote(undefined, { model: 'iris', stage: 'shadowed', version: 1 }, new Date()),
        { version: 2, sampleRate: 1 },
        new Date(),
      ),
    );
    for (const mode of MODES) {
      const events: RequestMetricEvent[] = [];
      const config = {
        ...parseConfig({}),
        repository: dir,
        stage: mode === 'off' ? 'plain' : 'shadowed',
        deploymentTtlMs: 60_000,
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
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const close = async () => {
        agent.destroy();
        await new Promise((resolve) => server.close(resolve));
      };
      targets.push({ mode, app, port, agent, close, events, latencies: [] });
    }
    const body = readFileSync(path.join(SAMPLES_DIR, 'iris', 'request.json'));
    for (const target of targets)
      for (let i = 0; i < WARMUP; i++) await post(target.agent, target.port, body);
    // Blocks of sequential requests per mode, modes taking turns: a background shadow overlaps
    // the next request of its own mode only (as it would in production), while load drift from
    // anything else on the machine falls on all modes alike.
    for (let done = 0; done < REQUESTS; done += BLOCK) {
      for (const target of targets) {
        for (let i = 0; i < BLOCK; i++) {
          target.latencies.push(await post(target.agent, target.port, body));
          if (THINK_MS > 0) await new Promise((resolve) => setTimeout(resolve, THINK_MS));
        }
        await target.app.settled();
      }
    }
    console.log(
      `iris, ${REQUESTS} sequential requests per mode, in alternating blocks of ${BLOCK}, ${THINK_MS} ms between requests; node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg()[0]?.toFixed(1)}`,
    );
    console.log('| shadow     | p50 ms | p90 ms | p99 ms | mean ms | shadow work ms (mean) |');
    console.log('| ---------- | ------ | ------ | ------ | ------- | --------------------- |');
    for (const target of targets) {
      const sorted = [...target.latencies].sort((a, b) => a - b);
      const at = (q: number) =>
        (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(3);
      const shadowMs = target.events
        .slice(WARMUP)
        .flatMap((e) => (e.shadowMs === undefined ? [] : [e.shadowMs]));
      console.log(
        `| ${target.mode.padEnd(10)} | ${at(0.5)} | ${at(0.9)} | ${at(0.99)} | ${mean(sorted).toFixed(3)} | ${shadowMs.length === 0 ? '-' : mean(shadowMs).toFixed(3)} |`,
      );
    }
    await measureAdapters(repository, dir, readFileSync(path.join(SAMPLES_DIR, 'iris', 'request.json')));
  } finally {
    for (const target of targets) await target.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Call = () => Promise<void>;

/** Each cloud adapter, in this process, without and with an inline 100% shadow. */
async function measureAdapters(repository: ModelRepository, dir: string, body: Buffer): Promise<void> {
  const shadowed = new Map<string, number>();
  const appFor = (stage: 'plain' | 'shadowed') =>
    createApp({
      config: { ...parseConfig({}), repository: dir, stage, deploymentTtlMs: 60_000, shadowMode: 'inline' },
      store: repository.store,
      log: silentLogger,
      // Counts shadow runs, so a table row cannot silently compare two unshadowed paths.
      metrics: (event) => {
        if (event.shadowMs !== undefined) shadowed.set(stage, (shadowed.get(stage) ?? 0) + 1);
      },
    });
  const text = body.toString('utf8');
  const aws = (app: App): Call => {
    const handler = createHandler(app);
    const event = {
      version: '2.0',
      rawPath: '/v2/models/iris/infer',
      rawQueryString: '',
      headers: { 'content-type': 'application/json' },
      requestContext: { http: { method: 'POST', sourceIp: '127.0.0.1' }, stage: '$default' },
      body: text,
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2;
    return async () => {
      const result = (await handler(event, {} as Context)) as { statusCode: number };
      if (result.statusCode !== 200) throw new Error(`aws: status ${result.statusCode}`);
    };
  };
  const azure = (app: App): Call => {
    const handler = createAzureHandler(app);
    return async () => {
      const request = new HttpRequest({
        method: 'POST',
        url: 'http://127.0.0.1/v2/models/iris/infer',
        headers: { 'content-type': 'application/json' },
        body: { string: text },
      });
      const result = await handler(request, new InvocationContext({ logHandler: () => {} }));
      if (result.status !== 200) throw new Error(`azure: status ${result.status}`);
    };
  };
  const servers: { close: () => Promise<void> }[] = [];
  const gcp = async (app: App, name: string): Promise<Call> => {
    http(name, createGcpFunction(app));
    const server = getTestServer(name);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    servers.push({
      close: async () => {
        agent.destroy();
        await new Promise((resolve) => server.close(resolve));
      },
    });
    return async () => {
      await post(agent, port, body);
    };
  };
  try {
    const platforms: { name: string; off: Call; inline: Call }[] = [
      { name: 'AWS Lambda handler', off: aws(appFor('plain')), inline: aws(appFor('shadowed')) },
      { name: 'Azure handler', off: azure(appFor('plain')), inline: azure(appFor('shadowed')) },
      {
        name: 'GCP functions-framework (HTTP)',
        off: await gcp(appFor('plain'), 'shadow-off'),
        inline: await gcp(appFor('shadowed'), 'shadow-inline'),
      },
    ];
    console.log('\nper cloud adapter, in this process, shadow inline (what the cloud functions run):');
    console.log('| adapter | p50 off ms | p50 inline ms | added p50 ms | mean off ms | mean inline ms |');
    console.log('| ------- | ---------- | ------------- | ------------ | ----------- | -------------- |');
    for (const platform of platforms) {
      shadowed.clear();
      const samples = { off: [] as number[], inline: [] as number[] };
      for (const mode of ['off', 'inline'] as const) for (let i = 0; i < WARMUP; i++) await platform[mode]();
      for (let done = 0; done < REQUESTS; done += BLOCK) {
        for (const mode of ['off', 'inline'] as const) {
          for (let i = 0; i < BLOCK; i++) {
            const started = performance.now();
            await platform[mode]();
            samples[mode].push(performance.now() - started);
          }
        }
      }
      if (shadowed.get('plain') !== undefined || (shadowed.get('shadowed') ?? 0) < REQUESTS) {
        throw new Error(
          `${platform.name}: shadow runs ${JSON.stringify([...shadowed])}, expected ${REQUESTS}+ inline only`,
        );
      }
      const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
      console.log(
        `| ${platform.name} | ${p50(samples.off).toFixed(3)} | ${p50(samples.inline).toFixed(3)} | ${(p50(samples.inline) - p50(samples.off)).toFixed(3)} | ${mean(samples.off).toFixed(3)} | ${mean(samples.inline).toFixed(3)} |`,
      );
    }
  } finally {
    for (const server of servers) await server.close();
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
