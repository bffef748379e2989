/**
 * The bundled sample models and the plain-JS arithmetic they are meant to compute. Shared by
 * scripts/make-sample-models.ts (which writes samples/) and tests that need a second version.
 */
import { buildModel } from './onnx-builder';

// Multinomial logistic regression on the iris measurements (rows: features, columns: classes).
export const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
export const IRIS_WEIGHTS = [
  [-0.42, 0.53, -0.11],
  [0.97, -0.32, -0.65],
  [-2.52, -0.21, 2.73],
  [-1.08, -0.94, 2.02],
];
export const IRIS_BIAS = [9.85, 2.24, -12.09];

export function irisReference(rows: number[][]): { probabilities: number[][]; label: number[] } {
  const probabilities = rows.map((row) => {
    const logits = IRIS_BIAS.map(
      (bias, k) => bias + row.reduce((sum, x, j) => sum + x * (IRIS_WEIGHTS[j]?.[k] ?? 0), 0),
    );
    const max = Math.max(...logits);
    const exps = logits.map((z) => Math.exp(z - max));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((e) => e / total);
  });
  return { probabilities, label: probabilities.map((p) => p.indexOf(Math.max(...p))) };
}

// Price in thousands from floor area, rooms, a district embedding and building age.
export const DISTRICT_PREMIUM = [0, 35, 80, -20, 120];
export const HOUSE = { area: 2.1, rooms: 15, age: -0.8, bias: 50 };

export function houseReference(
  rows: { area: number; rooms: number; district: number; age: number }[],
): number[] {
  return rows.map(
    (r) =>
      HOUSE.area * r.area +
      HOUSE.rooms * r.rooms +
      HOUSE.age * r.age +
      (DISTRICT_PREMIUM[r.district] ?? 0) +
      HOUSE.bias,
  );
}

/** The iris classifier; another `bias` makes a second version whose classes differ on some rows. */
export function irisModel(bias: readonly number[] = IRIS_BIAS): Uint8Array {
  return buildModel({
    name: 'iris',
    docString: 'Iris species classifier: 4 measurements in cm -> class probabilities and label.',
    inputs: [{ name: 'input', type: 'FLOAT', shape: ['batch', 4] }],
    outputs: [
      { name: 'probabilities', type: 'FLOAT', shape: ['batch', 3] },
      { name: 'label', type: 'INT64', shape: ['batch'] },
    ],
    initializers: [
      { name: 'W', type: 'FLOAT', dims: [4, 3], values: IRIS_WEIGHTS.flat() },
      { name: 'B', type: 'FLOAT', dims: [3], values: [...bias] },
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

/** The house-price model; another `bias` shifts every price by exactly `bias - HOUSE.bias`. */
export function housePriceModel(bias = HOUSE.bias): Uint8Array {
  const column = (name: string, type: 'FLOAT' | 'INT64') => ({ name, type, shape: ['batch', 1] });
  return buildModel({
    name: 'house-price',
    docString: 'House price in thousands from area (m2), rooms, district id (0-4) and age (years).',
    inputs: [
      column('area', 'FLOAT'),
      column('rooms', 'INT64'),
      column('district', 'INT64'),
      column('age', 'FLOAT'),
    ],
    outputs: [column('price', 'FLOAT')],
    initializers: [
      { name: 'district_premium', type: 'FLOAT', dims: [5], values: DISTRICT_PREMIUM },
      { name: 'w_area', type: 'FLOAT', dims: [1], values: [HOUSE.area] },
      { name: 'w_rooms', type: 'FLOAT', dims: [1], values: [HOUSE.rooms] },
      { name: 'w_age', type: 'FLOAT', dims: [1], values: [HOUSE.age] },
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
