/**
 * Preload for running functions-framework on a workstation (`npm run start:gcp`): the framework
 * has no host option and listens on every interface; this binds it to HOST (default 127.0.0.1)
 * and prints the real address, so PORT=0 is usable. Not used in Google Cloud.
 */
import type { AddressInfo } from 'node:net';
import net from 'node:net';

const host = process.env['HOST'] || '127.0.0.1';
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  const [port, second] = args;
  const portOnly = typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port));
  if (portOnly && typeof second !== 'string') args.splice(1, 0, host);
  this.once('listening', () => {
    const address = this.address() as AddressInfo | null;
    if (address === null || typeof address !== 'object') return;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    process.stderr.write(`modelfleet (functions-framework) listening on http://${shown}:${address.port}\n`);
  });
  return listen.apply(this, args as Parameters<typeof listen>);
} as typeof listen;
