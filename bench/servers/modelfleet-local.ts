/**
 * modelfleet's local server (functions/local/handler.ts) on a bench repository, with the inference
 * engine scripts/serve.ts gives it (worker pool per INFERENCE_WORKERS; the tiny model runs inline
 * once measured); prints its port.
 */
import type { AddressInfo } from 'node:net';
import { createLocalServer } from '../../functions/local/handler';
import { createApp } from '../../shared/app';
import { parseConfig } from '../../shared/config';
import { parseServerRuntimeSettings } from '../../shared/config/server';
import { WorkerPoolEngine } from '../../shared/serving/worker-pool';
import { createLogger } from '../../shared/telemetry/log';
import { batchedJsonLineSink } from '../../shared/telemetry/metric-event';

const env = { ...process.env, MODELFLEET_STAGE: 'bench' };
const config = parseConfig(env);
const runtime = parseServerRuntimeSettings(env);
const engine = new WorkerPoolEngine({
  size: runtime.inferenceWorkers,
  inlineBelowMs: runtime.inlineBelowMs,
  log: createLogger(),
});
// Metric lines go to stdout as scripts/serve.ts writes them; the bench points stdout at /dev/null.
const server = createLocalServer(createApp({ config, metrics: batchedJsonLineSink(), engine }));
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
