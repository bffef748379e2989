/** The naive cold path, strictly in order: import onnxruntime-node, GetObject, create session, run once. */
import { getObject, s3Client } from './s3';

// require, not import: imports are hoisted above t0, and this load is what is being timed.
const t0 = performance.now();
const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');

async function main(): Promise<void> {
  const moduleLoad = performance.now();
  const client = s3Client();
  const artifact = await getObject(client, process.env['BENCH_MODEL_KEY'] ?? '');
  const download = performance.now();
  const session = await ort.InferenceSession.create(artifact, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const create = performance.now();
  const shape = JSON.parse(process.env['BENCH_INPUT_SHAPE'] ?? '[]') as number[];
  const input = new Float32Array(shape.reduce((a, b) => a * b, 1));
  await session.run({ [session.inputNames[0] ?? '']: new ort.Tensor('float32', input, shape) });
  const run = performance.now();
  process.stdout.write(
    `${JSON.stringify({
      startup: t0,
      moduleLoad: moduleLoad - t0,
      download: download - moduleLoad,
      sessionCreate: create - download,
      firstRun: run - create,
    })}\n`,
  );
}

void main();
