import * as ort from 'onnxruntime-node';
import { buildModel } from './onnx-builder';

/**
 * A CPU-bound model whose run time is set by its shape, not by its request: a [1, 1] input is
 * expanded to an n×n matrix, multiplied by itself `rounds` times (Tanh between, so values stay
 * finite) and averaged back to [1, 1]. Cost ≈ rounds × 2n³ flops on one thread; the request body
 * stays a few bytes, so parsing never competes with the run.
 */
export function slowModel(n: number, rounds: number): Uint8Array {
  const nodes = [{ op: 'Expand', inputs: ['x', 'size'], outputs: ['m0'] }];
  for (let i = 1; i <= rounds; i++) {
    nodes.push({ op: 'MatMul', inputs: [`m${i - 1}`, 'm0'], outputs: [`p${i}`] });
    nodes.push({ op: 'Tanh', inputs: [`p${i}`], outputs: [`m${i}`] });
  }
  nodes.push({ op: 'ReduceMean', inputs: [`m${rounds}`], outputs: ['y'] });
  return buildModel({
    name: 'slow',
    inputs: [{ name: 'x', type: 'FLOAT', shape: [1, 1] }],
    outputs: [{ name: 'y', type: 'FLOAT', shape: [1, 1] }],
    initializers: [{ name: 'size', type: 'INT64', dims: [2], values: [n, n] }],
    nodes,
  });
}

export const SLOW_REQUEST = JSON.stringify({
  inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1], data: [0.01] }],
});

/** A slow model whose run takes about `targetMs` on this machine now (n = 200, rounds scaled). */
export async function calibratedSlowModel(targetMs: number): Promise<Uint8Array> {
  const probe = await ort.InferenceSession.create(slowModel(200, 4), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const feeds = { x: new ort.Tensor('float32', Float32Array.of(0.01), [1, 1]) };
  await probe.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const at = performance.now();
    await probe.run(feeds);
    times.push(performance.now() - at);
  }
  await probe.release();
  const perRound = (times.sort((a, b) => a - b)[1] ?? 1) / 4;
  return slowModel(200, Math.min(400, Math.max(2, Math.round(targetMs / perRound))));
}
