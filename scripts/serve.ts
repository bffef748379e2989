/**
 * `npm start`: serves the model repository over HTTP on 127.0.0.1 (PORT, default 8080). When no
 * MODEL_REPOSITORY is named and ./model-repository does not exist yet, it is created with the
 * bundled samples deployed on `local` and `dev` (SAMPLES=off: not). A repository the user names
 * is never written to, and one that does not exist stops the start.
 */
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { containerApp, openContainerStore } from '../functions/container';
import { createLocalServer } from '../functions/local/handler';
import { createApp } from '../shared/app';
import { parseConfig, parseListenAddress } from '../shared/config';
import { parseContainerSettings } from '../shared/config/container';
import { parseLocalServerSettings } from '../shared/config/tools';
import { FsModelStore } from '../shared/store';
import { createLogger } from '../shared/telemetry/log';
import { discardSink, jsonLineSink } from '../shared/telemetry/metric-event';
import { publishMissingSamples, SAMPLE_STAGES } from './lib/samples';

async function main(): Promise<void> {
  // A managed endpoint's contract (SageMaker, Vertex AI, Azure ML) names the port and the model mount.
  const container = parseContainerSettings(process.env);
  const env = container ? { ...process.env, MODEL_REPOSITORY: container.modelLocation } : process.env;
  const listen = parseListenAddress(env);
  const { host } = listen;
  const port = container?.port ?? listen.port;
  const config = parseConfig(env);
  const local = parseLocalServerSettings(env);
  const log = createLogger(local.logLevel);
  const metrics = local.metrics === 'off' ? discardSink : jsonLineSink;
  const mount = container && (await openContainerStore(container, config));
  const core = createApp({ config, log, metrics, ...(mount ? { store: mount } : {}) });
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
  await app.preload();
  const server = createLocalServer(app);
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
      }),
    );
  });
  // Captured records still buffered are written before exiting (app.settled flushes them).
  const stop = () => server.close(() => void app.settled().finally(() => process.exit(0)));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`modelfleet: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
