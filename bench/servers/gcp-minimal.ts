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

async function main(): Promise<void> {
  const session = await ort.InferenceSession.create(readFileSync(process.env['MODEL_FILE'] ?? ''), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  http('minimal', async (req, res) => {
    const request = req.body as { inputs: { name: string; shape: number[]; data: number[] }[] };
    const feeds: Record<string, ort.Tensor> = {};
    for (const input of request.inputs) {
      feeds[input.name] = new ort.Tensor('float32', Float32Array.from(input.data), input.shape);
    }
    const results = await session.run(feeds);
    const outputs = Object.entries(results).map(([name, tensor]) => ({
      name,
      shape: tensor.dims,
      data: Array.from(tensor.data as Float32Array),
    }));
    // writeHead/end as servers/minimal.ts and modelfleet's GCP adapter do (no express send()).
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ outputs }));
  });
  const { getTestServer } = require('@google-cloud/functions-framework/testing') as {
    getTestServer(name: string): import('node:http').Server;
  };
  const server = getTestServer('minimal');
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
}

void main();
