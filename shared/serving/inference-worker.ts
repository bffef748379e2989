/**
 * The body of one inference worker thread (serving/worker-pool.ts starts it): it holds its own
 * onnxruntime sessions, one per loaded version, and runs what the main thread sends, one job at
 * a time. Output buffers go back transferred, not copied.
 */
import os from 'node:os';
import { parentPort } from 'node:worker_threads';
import { createSession } from './native-session';
import { type OrtSession, ort } from './onnx';
import type { FromWorker, ToWorker, WireTensor } from './worker-protocol';

const sessions = new Map<number, OrtSession>();

/**
 * Inference yields the CPU to the main thread: on Linux a thread has its own nice value, and with
 * every core busy running models the thread that parses requests and answers health probes must
 * still be scheduled first (a probe that waits behind a run gets the pod restarted). Lowering one's
 * own priority needs no privilege; where it is refused, the worker runs at the process's priority.
 */
const WORKER_NICENESS = 5;
try {
  os.setPriority(0, Math.min(19, os.getPriority(0) + WORKER_NICENESS));
} catch {
  // Not permitted or not supported here: same priority as the main thread.
}

function reply(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(message, transfer);
}

/** A typed array's buffer when it can move to the other thread as is (it views the whole buffer). */
function movable(data: unknown): ArrayBuffer | undefined {
  if (!ArrayBuffer.isView(data)) return undefined;
  const { buffer } = data;
  if (!(buffer instanceof ArrayBuffer) || data.byteOffset !== 0 || data.byteLength !== buffer.byteLength)
    return undefined;
  return buffer;
}

async function run(message: Extract<ToWorker, { kind: 'run' }>): Promise<void> {
  const session = sessions.get(message.model);
  if (session === undefined) throw new Error(`model ${message.model} is not loaded in this worker`);
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, wire] of Object.entries(message.feeds)) {
    feeds[name] = new ort.Tensor(wire.type as ort.Tensor.Type, wire.data as ort.Tensor.DataType, wire.dims);
  }
  const started = performance.now();
  let output: Record<string, ort.Tensor>;
  try {
    output = await session.run(feeds, message.outputs);
  } catch (err) {
    return reply({
      kind: 'failed',
      job: message.job,
      message: String((err as Error)?.message ?? err),
      runFailed: true,
    });
  }
  const ended = performance.now();
  const runMs = ended - started;
  const results: Record<string, WireTensor> = {};
  const transfer: ArrayBuffer[] = [];
  for (const [name, tensor] of Object.entries(output)) {
    results[name] = { type: tensor.type, dims: tensor.dims, data: tensor.data };
    const buffer = movable(tensor.data);
    if (buffer !== undefined && !transfer.includes(buffer)) transfer.push(buffer);
  }
  const origin = performance.timeOrigin;
  reply(
    { kind: 'ran', job: message.job, results, runMs, startedAt: origin + started, endedAt: origin + ended },
    transfer,
  );
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.kind) {
    case 'load':
      sessions.set(message.model, await createSession(message.artifact));
      return reply({ kind: 'loaded', job: message.job });
    case 'run':
      return run(message);
    case 'release': {
      const session = sessions.get(message.model);
      sessions.delete(message.model);
      await session?.release().catch(() => {});
      return;
    }
  }
}

parentPort?.on('message', (message: ToWorker) => {
  handle(message).catch((err: unknown) => {
    if (message.kind === 'release') return;
    reply({
      kind: 'failed',
      job: message.job,
      message: String((err as Error)?.message ?? err),
      runFailed: false,
    });
  });
});
