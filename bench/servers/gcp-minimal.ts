/**
 * The floor for the GCP row: the minimal handler of servers/minimal.ts (parse → Tensor → run →
 * stringify, nothing else) registered with functions-framework and served exactly as servers/gcp.ts
 * serves modelfleet's function (getTestServer's express stack, keep-alive 65 s, 127.0.0.1).
 * The body arrives already parsed by the framework's JSON body parser, as every functions-framework
 * user gets it, so JSON.parse runs once (in the framework) as in the node:http minimal server.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { http } from '@google-cloud/functions-framework';
import * as ort from 'onnxruntime-node';
import { type MinimalRequest, minimalPredict } from '../minimal';

async function main(): Promise<void> {
  const session = await ort.InferenceSession.create(readFileSync(process.env['MODEL_FILE'] ?? ''), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  http('minimal', async (req, res) => {
    const body = await minimalPredict(session, req.body as MinimalRequest);
    // writeHead/end as servers/minimal.ts and modelfleet's GCP adapter do (no express send()).
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  const { getTestServer } = require('@google-cloud/functions-framework/testing') as {
    getTestServer(name: string): import('node:http').Server;
  };
  const server = getTestServer('minimal');
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
}

void main();
