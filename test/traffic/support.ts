import { readFileSync } from 'node:fs';
import path from 'node:path';
import { buildModel } from '../../scripts/lib/onnx-builder';
import { type App, createApp } from '../../shared/app';
import { type Config, parseConfig } from '../../shared/config';
import { type DeploymentConfig, promote } from '../../shared/deployment';
import { silentLogger } from '../../shared/log';
import type { RequestMetricEvent } from '../../shared/metrics';
import { packageModel } from '../../shared/packaging';
import type { ModelRepository } from '../../shared/repository';
import { sampleRepository } from '../support/fixtures';
import { seededRandom } from '../support/random';

export const samplesDir = path.join(__dirname, '..', '..', 'samples');
export const irisRequest = JSON.parse(readFileSync(path.join(samplesDir, 'iris', 'request.json'), 'utf8'));
export const houseRequest = JSON.parse(
  readFileSync(path.join(samplesDir, 'house-price', 'request.json'), 'utf8'),
);
export const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

/**
 * Iris-shaped classifier whose bias differs from the sample's, so some rows change class: a
 * second version to canary or shadow. Same signature and features as the sample.
 */
function irisVariant(bias: number[]): Uint8Array {
  return buildModel({
    name: 'iris',
    inputs: [{ name: 'input', type: 'FLOAT', shape: ['batch', 4] }],
    outputs: [
      { name: 'probabilities', type: 'FLOAT', shape: ['batch', 3] },
      { name: 'label', type: 'INT64', shape: ['batch'] },
    ],
    initializers: [
      {
        name: 'W',
        type: 'FLOAT',
        dims: [4, 3],
        values: [-0.42, 0.53, -0.11, 0.97, -0.32, -0.65, -2.52, -0.21, 2.73, -1.08, -0.94, 2.02],
      },
      { name: 'B', type: 'FLOAT', dims: [3], values: bias },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['input', 'W'], outputs: ['xw'] },
      { op: 'Add', inputs: ['xw', 'B'], outputs: ['logits'] },
      { op: 'Softmax', inputs: ['logits'], outputs: ['probabilities'], attributes: { axis: { i: 1 } } },
      {
        op: 'ArgMax',
        inputs: ['logits'],
        outputs: ['label'],
        attributes: { axis: { i: 1 }, keepdims: { i: 0 } },
      },
    ],
  });
}

/** House-price with `bias` in place of the sample's 50: its prices differ by exactly bias - 50. */
function houseVariant(bias: number): Uint8Array {
  const column = (name: string, type: 'FLOAT' | 'INT64') => ({ name, type, shape: ['batch', 1] });
  return buildModel({
    name: 'house-price',
    inputs: [
      column('area', 'FLOAT'),
      column('rooms', 'INT64'),
      column('district', 'INT64'),
      column('age', 'FLOAT'),
    ],
    outputs: [column('price', 'FLOAT')],
    initializers: [
      { name: 'district_premium', type: 'FLOAT', dims: [5], values: [0, 35, 80, -20, 120] },
      { name: 'w_area', type: 'FLOAT', dims: [1], values: [2.1] },
      { name: 'w_rooms', type: 'FLOAT', dims: [1], values: [15] },
      { name: 'w_age', type: 'FLOAT', dims: [1], values: [-0.8] },
      { name: 'bias', type: 'FLOAT', dims: [1], values: [bias] },
    ],
    nodes: [
      { op: 'Cast', inputs: ['rooms'], outputs: ['rooms_f'], attributes: { to: { i: 1 } } },
      {
        op: 'Gather',
        inputs: ['district_premium', 'district'],
        outputs: ['premium'],
        attributes: { axis: { i: 0 } },
      },
      { op: 'Mul', inputs: ['area', 'w_area'], outputs: ['t_area'] },
      { op: 'Mul', inputs: ['rooms_f', 'w_rooms'], outputs: ['t_rooms'] },
      { op: 'Mul', inputs: ['age', 'w_age'], outputs: ['t_age'] },
      { op: 'Add', inputs: ['t_area', 't_rooms'], outputs: ['s1'] },
      { op: 'Add', inputs: ['s1', 't_age'], outputs: ['s2'] },
      { op: 'Add', inputs: ['s2', 'premium'], outputs: ['s3'] },
      { op: 'Add', inputs: ['s3', 'bias'], outputs: ['price'] },
    ],
  });
}

/**
 * The sample repository plus iris version 2 (the second sample row flips from class 2 to class 1)
 * and house-price version 2 (every price 10 higher). Both samples' version 1 is deployed on `local`.
 */
export async function twoVersionRepository(): Promise<ModelRepository> {
  const repository = await sampleRepository();
  const iris2 = await packageModel({
    name: 'iris',
    artifact: irisVariant([9.85, 5.5, -12.09]),
    features: IRIS_FEATURES,
  });
  expect(await repository.publish(iris2)).toBe(2);
  const house2 = await packageModel({ name: 'house-price', artifact: houseVariant(60) });
  expect(await repository.publish(house2)).toBe(2);
  return repository;
}

export interface TrafficApp {
  app: App;
  repository: ModelRepository;
  events: RequestMetricEvent[];
}

/** An app over `repository` with a seeded random source and a TTL of 0 (config changes apply at once). */
export function trafficApp(
  repository: ModelRepository,
  overrides: Partial<Config> = {},
  seed = 7,
): TrafficApp {
  const events: RequestMetricEvent[] = [];
  const config = { ...parseConfig({}), deploymentTtlMs: 0, ...overrides, repository: repository.store.url };
  const app = createApp({
    config,
    store: repository.store,
    metrics: (event) => events.push(event),
    log: silentLogger,
    random: seededRandom(seed),
  });
  return { app, repository, events };
}

export async function deploy(
  repository: ModelRepository,
  model: string,
  change: (current: DeploymentConfig) => DeploymentConfig,
): Promise<DeploymentConfig> {
  return repository.updateDeployment(model, 'local', (current) =>
    change(current ?? promote(undefined, { model, stage: 'local', version: 1 }, new Date())),
  );
}
