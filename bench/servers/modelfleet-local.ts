/** modelfleet's local server (functions/local/handler.ts) on a bench repository; prints its port. */
import type { AddressInfo } from 'node:net';
import { createLocalServer } from '../../functions/local/handler';
import { createApp } from '../../shared/app';
import { parseConfig } from '../../shared/config';
import { jsonLineSink } from '../../shared/telemetry/metric-event';

const config = parseConfig({ ...process.env, MODELFLEET_STAGE: 'bench' });
// Metric lines go to stdout as in production; the bench points stdout at /dev/null.
const server = createLocalServer(createApp({ config, metrics: jsonLineSink }));
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
