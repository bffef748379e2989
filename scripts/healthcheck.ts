/**
 * The image's HEALTHCHECK (`node dist/scripts/healthcheck.js`): exit 0 when the server in this
 * container answers GET /v2/health/live with 200 within 2 s, else 1. It reads HOST and PORT as the
 * server does; a server bound to every interface is asked on loopback.
 */
import { request } from 'node:http';
import { parseListenAddress } from '../shared/config';

const { port, host } = parseListenAddress(process.env);
const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const probe = request({ host: target, port, path: '/v2/health/live', timeout: 2000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
probe.on('timeout', () => probe.destroy(new Error('timed out')));
probe.on('error', (err) => {
  process.stderr.write(`healthcheck: ${err.message}\n`);
  process.exit(1);
});
probe.end();
