/**
 * The two benchmark models, generated in code so a fresh clone needs no binary fixtures:
 * a tiny tabular classifier (30 floats → 2 probabilities) and a small CNN on a 1×3×48×192 image
 * (Conv 3→24 3×3 + Relu + GlobalAveragePool + Flatten + Gemm 24→10), plus a folder repository
 * serving both on the `bench` stage.
 */
import { buildModel } from '../scripts/lib/onnx-builder';
import { packageModel } from '../shared/control/packaging';
import { promote } from '../shared/repository/deployment';
import { ModelRepository } from '../shared/repository/repository';
import { hashApiKey } from '../shared/security/api-keys';
import { FsModelStore } from '../shared/store';
import type { OipTensor } from '../shared/tensor/tensor';
import { seededRandom } from '../test/support/random';

export const STAGE = 'bench';
/**
 * Non-local stages require authentication, so the bench serves as deployed: one API key, sent in
 * `x-api-key`, checked per request. Rate limits stay on but high enough never to throttle.
 */
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef';
export const BENCH_SECURITY_ENV: Record<string, string> = {
  API_KEYS: `bench:predict:${hashApiKey(BENCH_API_KEY)}`,
  RATE_LIMIT_KEY_RPS: '1000000',
  RATE_LIMIT_CLIENT_RPS: '1000000',
};
export const CNN_SHAPE: readonly number[] = [1, 3, 48, 192];
export const TABULAR_FEATURES = 30;

export interface BenchModel {
  name: string;
  artifact: Uint8Array;
  inputName: string;
  shape: number[];
  /** The request's input tensor values (flat, row-major). */
  values: Float32Array;
}

export function tabularModel(): BenchModel {
  const random = seededRandom(1);
  const weights = Array.from({ length: TABULAR_FEATURES * 2 }, () => random() - 0.5);
  const artifact = buildModel({
    name: 'tabular',
    inputs: [{ name: 'features', type: 'FLOAT', shape: ['batch', TABULAR_FEATURES] }],
    outputs: [{ name: 'probabilities', type: 'FLOAT', shape: ['batch', 2] }],
    initializers: [
      { name: 'W', type: 'FLOAT', dims: [TABULAR_FEATURES, 2], values: weights },
      { name: 'B', type: 'FLOAT', dims: [2], values: [0.1, -0.1] },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['features', 'W'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'B'], outputs: ['logits'] },
      { op: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attributes: { axis: { i: 1 } } },
    ],
  });
  const values = Float32Array.from({ length: TABULAR_FEATURES }, () => random() * 10);
  return { name: 'tabular', artifact, inputName: 'features', shape: [1, TABULAR_FEATURES], values };
}

export function cnnModel(): BenchModel {
  const random = seededRandom(2);
  const channels = 24;
  const classes = 10;
  const artifact = buildModel({
    name: 'cnn',
    inputs: [{ name: 'image', type: 'FLOAT', shape: ['batch', 3, 48, 192] }],
    outputs: [{ name: 'logits', type: 'FLOAT', shape: ['batch', classes] }],
    initializers: [
      {
        name: 'conv_w',
        type: 'FLOAT',
        dims: [channels, 3, 3, 3],
        values: Array.from({ length: channels * 27 }, () => random() - 0.5),
      },
      {
        name: 'conv_b',
        type: 'FLOAT',
        dims: [channels],
        values: Array.from({ length: channels }, () => 0.01),
      },
      {
        name: 'fc_w',
        type: 'FLOAT',
        dims: [classes, channels],
        values: Array.from({ length: classes * channels }, () => random() - 0.5),
      },
      { name: 'fc_b', type: 'FLOAT', dims: [classes], values: Array.from({ length: classes }, () => 0) },
    ],
    nodes: [
      {
        op: 'Conv',
        inputs: ['image', 'conv_w', 'conv_b'],
        outputs: ['conv'],
        attributes: {
          kernel_shape: { ints: [3, 3] },
          pads: { ints: [1, 1, 1, 1] },
          strides: { ints: [1, 1] },
        },
      },
      { op: 'Relu', inputs: ['conv'], outputs: ['relu'] },
      { op: 'GlobalAveragePool', inputs: ['relu'], outputs: ['pooled'] },
      { op: 'Flatten', inputs: ['pooled'], outputs: ['flat'], attributes: { axis: { i: 1 } } },
      { op: 'Gemm', inputs: ['flat', 'fc_w', 'fc_b'], outputs: ['logits'], attributes: { transB: { i: 1 } } },
    ],
  });
  const count = CNN_SHAPE.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: count }, () => random());
  return { name: 'cnn', artifact, inputName: 'image', shape: [...CNN_SHAPE], values };
}

/** The OIP JSON request a client would send (doubles printed as JS prints them). */
export function jsonRequest(model: BenchModel): string {
  const input: OipTensor = {
    name: model.inputName,
    datatype: 'FP32',
    shape: model.shape,
    data: Array.from(model.values),
  };
  return JSON.stringify({ inputs: [input] });
}

/** The same request in the binary tensor data extension: JSON header + raw float32 bytes. */
export function binaryRequest(model: BenchModel): { body: Buffer; headerLength: number } {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        {
          name: model.inputName,
          datatype: 'FP32',
          shape: model.shape,
          parameters: { binary_data_size: model.values.byteLength },
        },
      ],
    }),
  );
  const data = Buffer.from(model.values.buffer, model.values.byteOffset, model.values.byteLength);
  return { body: Buffer.concat([header, data]), headerLength: header.byteLength };
}

/** A folder repository holding both models, deployed on the bench stage. */
export async function benchRepository(dir: string, models: readonly BenchModel[]): Promise<ModelRepository> {
  const repository = new ModelRepository(new FsModelStore(dir));
  for (const model of models) {
    if ((await repository.listVersions(model.name)).length > 0) continue;
    const pkg = await packageModel({ name: model.name, artifact: model.artifact });
    const version = await repository.publish(pkg);
    await repository.updateDeployment(model.name, STAGE, (current) =>
      promote(current, { model: model.name, stage: STAGE, version }, new Date(), 'bench'),
    );
  }
  return repository;
}
