/**
 * modelfleet's GCP function (functions/gcp/index.ts) in functions-framework's own HTTP server
 * (getTestServer builds the same express stack the framework's CLI serves), on 127.0.0.1.
 */
import type { AddressInfo } from 'node:net';

process.env['MODELFLEET_STAGE'] = 'bench';
require('../../functions/gcp/index');
const { getTestServer } = require('@google-cloud/functions-framework/testing') as {
  getTestServer(name: string): import('node:http').Server;
};
const server = getTestServer('modelfleet');
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
