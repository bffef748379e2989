/**
 * `npm start`, and the container image's entry (`docker run <image>` or `docker run <image> serve`,
 * as SageMaker starts it): serves the model repository over HTTP on HOST (default 127.0.0.1; the
 * image sets 0.0.0.0) and PORT (default 8080). When no MODEL_REPOSITORY is named and
 * ./model-repository does not exist yet, it is created with the bundled samples deployed on `local`
 * and `dev` (SAMPLES=off: not). A repository the user names is never written to, and one that does
 * not exist stops the start. SIGTERM/SIGINT drain it (functions/local/shutdown.ts); inference runs
 * on INFERENCE_WORKERS worker threads (shared/serving/worker-pool.ts).
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { containerApp, openContainerStore } from '../functions/container';
import { createLocalServer } from '../functions/local/handler';
import { drainable } from '../functions/local/shutdown';
import { type App, createApp } from '../shared/app';
import { parseConfig, parseListenAddress } from '../shared/config';
import { parseContainerSettings } from '../shared/config/container';
import { parseServerRuntimeSettings } from '../shared/config/server';
import { parseLocalServerSettings } from '../shared/config/tools';
import { WorkerPoolEngine } from '../shared/serving/worker-pool';
import { FsModelStore } from '../shared/store';
import { createLogger, type Logger } from '../shared/telemetry/log';
import { batchedJsonLineSink, discardSink } from '../shared/telemetry/metric-event';
import { publishMissingSamples, SAMPLE_STAGES } from './lib/samples';

/** The one command the entry takes: SageMaker runs `docker run <image> serve`. */
function checkArguments(args: readonly string[]): void {
  if (args.length === 0 || (args.length === 1 && args[0] === 'serve')) return;
  throw new Error(`expected no arguments or "serve", got ${JSON.stringify(args.join(' '))}`);
}

async function main(): Promise<void> {
  checkArguments(process.argv.slice(2));
  // A managed endpoint's contract (SageMaker, Vertex AI, Azure ML) names the port and the model mount.
  const container = parseContainerSettings(process.env);
  const env = container ? { ...process.env, MODEL_REPOSITORY: container.modelLocation } : process.env;
  const listen = parseListenAddress(env);
  const { host } = listen;
  const port = container?.port ?? listen.port;
  const config = parseConfig(env);
  const local = parseLocalServerSettings(env);
  const runtime = parseServerRuntimeSettings(env);
  const log = createLogger(local.logLevel);
  const engine = new WorkerPoolEngine({
    size: runtime.inferenceWorkers,
    inlineBelowMs: runtime.inlineBelowMs,
    log,
  });
  // A stop signal while the models load (a slow store, a rollout that gave up on this start) ends
  // the start at once: nothing is served yet, so there is nothing to drain.
  let stopServing: ((signal: string) => Promise<number>) | undefined;
  onStopSignal(log, async (signal) => {
    if (stopServing !== undefined) return stopServing(signal);
    log.info('stopped before serving: the models were still loading', { signal });
    await engine.close();
    return 0;
  });
  const lines = batchedJsonLineSink();
  const metrics = local.metrics === 'off' ? discardSink : lines;
  const mount = container && (await openContainerStore(container, config));
  const core = createApp({ config, log, metrics, engine, ...(mount ? { store: mount } : {}) });
  const app = container ? await containerApp(core, container) : core;
  const store = app.repository.store;
  if (store instanceof FsModelStore) {
    const seed = local.seedSamples && !existsSync(store.root);
    if (seed) {
      const published = await publishMissingSamples(app.repository, SAMPLE_STAGES);
      log.info(`created ${store.root} with the bundled samples`, {
        models: published,
        stages: SAMPLE_STAGES,
      });
    }
    store.requireFolder();
  }
  // Listen only once the deployed versions are downloaded, verified and warmed up.
  log.info('loading the deployed models', { repository: store.url, stage: config.stage });
  await app.preload();
  const server = createLocalServer(app);
  const { drain } = drainable(server);
  server.once('error', (err: NodeJS.ErrnoException) => {
    const message =
      err.code === 'EADDRINUSE'
        ? `port ${port} on ${host} is already in use: stop the other server or set PORT (PORT=0 picks a free port)`
        : `cannot listen on ${host}:${port}: ${err.message}`;
    process.stderr.write(`modelfleet: ${message}\n`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    const address = server.address() as AddressInfo;
    void app.repository.listModels().then((names) =>
      log.info(`modelfleet listening on http://${host}:${address.port}`, {
        repository: store.url,
        stage: config.stage,
        models: names,
        inferenceWorkers: engine.size,
      }),
    );
  });
  stopServing = async (signal) => {
    log.info('stopping: finishing the requests in flight', { signal, graceMs: runtime.shutdownGraceMs });
    const outcome = await drain(runtime.shutdownGraceMs);
    if (!outcome.drained) log.error('grace period over: connections cut', { abandoned: outcome.abandoned });
    await stopWork(app, engine);
    lines.flush();
    log.info('stopped', { drained: outcome.drained });
    return outcome.drained ? 0 : 1;
  };
}

/**
 * The first SIGTERM or SIGINT starts the drain and the process exits with its code; a second one
 * (Ctrl-C again) exits at once.
 */
function onStopSignal(log: Logger, stop: (signal: string) => Promise<number>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('second stop signal: exiting without waiting', { signal });
      process.exit(1);
    }
    stopping = true;
    stop(signal).then(
      (code) => process.exit(code),
      (err: unknown) => {
        log.error('stopping failed', { error: err instanceof Error ? err.message : String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Work left after the last response (background shadows, capture flushes), then the workers. */
async function stopWork(app: App, engine: WorkerPoolEngine): Promise<void> {
  // Captured records still buffered are written before exiting (app.settled flushes them).
  await app.settled();
  await engine.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`modelfleet: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
