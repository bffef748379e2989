/** The reference: node:http + onnxruntime and nothing else (no validation, routing or metrics). */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ort from 'onnxruntime-node';

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
        const request = JSON.parse(Buffer.concat(chunks).toString()) as {
          inputs: { name: string; shape: number[]; data: number[] }[];
        };
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
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ outputs }));
      })();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
}

void main();
