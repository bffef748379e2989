/**
 * The local HTTP server in a process of its own, for the fuzz test: bundled by esbuild at test
 * time, run with --expose-gc, it answers `heap` messages with heapUsed after a full collection.
 */
import type { AddressInfo } from 'node:net';
import { createLocalServer } from '../../functions/local/handler';
import { createApp } from '../../shared/app';
import { parseConfig } from '../../shared/config';
import { silentLogger } from '../../shared/telemetry/log';
import { discardSink } from '../../shared/telemetry/metric-event';

const app = createApp({ config: parseConfig(process.env), metrics: discardSink, log: silentLogger });
const server = createLocalServer(app);
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('message', (message) => {
  if (message !== 'heap') return;
  const collect = (globalThis as { gc?: () => void }).gc;
  collect?.();
  collect?.();
  process.send?.({ heapUsed: process.memoryUsage().heapUsed });
});
process.on('disconnect', () => server.close(() => process.exit(0)));
