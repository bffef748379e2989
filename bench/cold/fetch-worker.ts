/** Downloads manifest and artifact in a worker thread while the main thread loads onnxruntime. */
import { parentPort, workerData } from 'node:worker_threads';
import { getObject, s3Client } from './s3';

async function main(): Promise<void> {
  const started = performance.now();
  const client = s3Client();
  const prefix = (workerData as { prefix: string }).prefix;
  const [manifest, artifact] = await Promise.all([
    getObject(client, `${prefix}/manifest.json`),
    getObject(client, `${prefix}/model.onnx`),
  ]);
  const copy = artifact.slice();
  parentPort?.postMessage({ manifest, artifact: copy, ms: performance.now() - started }, [copy.buffer]);
}

void main();
