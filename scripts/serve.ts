/**
 * `npm start`: serves the model repository over HTTP on 127.0.0.1 (PORT, default 8080). A local
 * folder repository gets the bundled sample models published and deployed on first start.
 */
import type { AddressInfo } from 'node:net';
import { createLocalServer } from '../functions/local/server';
import { createApp } from '../shared/app';
import { parseConfig } from '../shared/config';
import { ConfigError } from '../shared/errors';
import { FsModelStore } from '../shared/store';
import { createLogger } from '../shared/telemetry/log';
import { discardSink, jsonLineSink } from '../shared/telemetry/metric-event';
import { publishMissingSamples } from './lib/samples';

async function main(): Promise<void> {
  const env = process.env;
  const config = parseConfig(env);
  const log = createLogger(env['LOG_LEVEL'] === 'debug' ? 'debug' : 'info');
  const app = createApp({ config, log, metrics: env['METRICS'] === 'off' ? discardSink : jsonLineSink });
  if (app.repository.store instanceof FsModelStore && env['SAMPLES'] !== 'off') {
    const stages = [config.stage, 'dev'];
    const published = await publishMissingSamples(app.repository, stages);
    if (published.length > 0) log.info('published the bundled samples', { models: published, stages });
  }
  // Listen only once the deployed versions are downloaded, verified and warmed up.
  await app.preload();
  const port = Number(env['PORT'] ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError('PORT', `not a port number: ${env['PORT']}`);
  const host = env['HOST'] ?? '127.0.0.1';
  const server = createLocalServer(app);
  server.listen(port, host, () => {
    const address = server.address() as AddressInfo;
    const models = app.repository.listModels();
    void models.then((names) =>
      log.info(`modelfleet listening on http://${host}:${address.port}`, {
        repository: app.repository.store.url,
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
