/** The reference: node:http + onnxruntime and nothing else (no validation, routing or metrics). */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ort from 'onnxruntime-node';
import { type MinimalRequest, minimalPredict } from '../minimal';

async function main(): Promise<void> {
  const session = await ort.InferenceSession.create(readFileSync(process.env['MODEL_FILE'] ?? ''), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = await minimalPredict(
          session,
          JSON.parse(Buffer.concat(chunks).toString()) as MinimalRequest,
        );
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(body);
      })();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
}

void main();
