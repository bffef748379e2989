/**
 * The overlapped cold path: a worker thread loads the S3 SDK and downloads manifest + artifact
 * while the main thread loads onnxruntime-node (a synchronous dlopen that would otherwise block
 * the download); then verify the sha256, create the session and run once.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

const t0 = performance.now();

async function main(): Promise<void> {
  const worker = new Worker(path.join(__dirname, 'fetch-worker.js'), {
    workerData: { prefix: process.env['BENCH_MODEL_PREFIX'] ?? '' },
  });
  const fetched = new Promise<{ manifest: Uint8Array; artifact: Uint8Array; ms: number }>(
    (resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    },
  );
  const loadStarted = performance.now();
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const moduleLoad = performance.now();
  const { manifest, artifact, ms } = await fetched;
  void worker.terminate();
  const downloaded = performance.now();
  const expected = (JSON.parse(Buffer.from(manifest).toString()) as { artifact: { sha256: string } }).artifact
    .sha256;
  if (createHash('sha256').update(artifact).digest('hex') !== expected) throw new Error('sha256 mismatch');
  const verified = performance.now();
  const session = await ort.InferenceSession.create(artifact, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const create = performance.now();
  const shape = JSON.parse(process.env['BENCH_INPUT_SHAPE'] ?? '[]') as number[];
  const input = new Float32Array(shape.reduce((a, b) => a * b, 1));
  await session.run({ [session.inputNames[0] ?? '']: new ort.Tensor('float32', input, shape) });
  const run = performance.now();
  process.stdout.write(
    `${JSON.stringify({
      startup: t0,
      moduleLoad: moduleLoad - loadStarted,
      download: ms,
      waitForDownload: downloaded - moduleLoad,
      verify: verified - downloaded,
      sessionCreate: create - verified,
      firstRun: run - create,
    })}\n`,
  );
}

void main();
