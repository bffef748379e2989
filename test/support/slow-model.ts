import { buildModel } from '../../scripts/lib/onnx-builder';
import { packageModel } from '../../shared/control/packaging';
import { promote } from '../../shared/repository/deployment';
import type { ModelRepository } from '../../shared/repository/repository';

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

/** Publishes a model (no sample: packaging would run it) and deploys it on `stage`. */
export async function deployModel(
  repository: ModelRepository,
  name: string,
  artifact: Uint8Array,
  stage = 'local',
): Promise<void> {
  const version = await repository.publish(await packageModel({ name, artifact }));
  await repository.updateDeployment(name, stage, (current) =>
    promote(current, { model: name, stage, version }, new Date(), 'test'),
  );
}
