/**
 * Regenerates the bundled sample models in samples/. Expected outputs are computed here in plain
 * JavaScript from the same weights, independently of onnxruntime, so packaging a sample checks the
 * graph against the arithmetic it is meant to do.
 *
 *   npm run samples
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildModel } from './lib/onnx-builder';
import { projectRoot } from './lib/paths';

const SAMPLES_DIR = path.join(projectRoot(), 'samples');

// Multinomial logistic regression on the iris measurements (rows: features, columns: classes).
const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const IRIS_WEIGHTS = [
  [-0.42, 0.53, -0.11],
  [0.97, -0.32, -0.65],
  [-2.52, -0.21, 2.73],
  [-1.08, -0.94, 2.02],
];
const IRIS_BIAS = [9.85, 2.24, -12.09];

function irisReference(rows: number[][]): { probabilities: number[][]; label: number[] } {
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
const DISTRICT_PREMIUM = [0, 35, 80, -20, 120];
const HOUSE = { area: 2.1, rooms: 15, age: -0.8, bias: 50 };

function houseReference(rows: { area: number; rooms: number; district: number; age: number }[]): number[] {
  return rows.map(
    (r) =>
      HOUSE.area * r.area +
      HOUSE.rooms * r.rooms +
      HOUSE.age * r.age +
      (DISTRICT_PREMIUM[r.district] ?? 0) +
      HOUSE.bias,
  );
}

function writeSample(
  name: string,
  files: { model: Uint8Array; meta: object; request: object; sample: object },
): void {
  const dir = path.join(SAMPLES_DIR, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'model.onnx'), files.model);
  for (const [file, value] of [
    ['meta.json', files.meta],
    ['request.json', files.request],
    ['sample.json', files.sample],
  ] as const) {
    writeFileSync(path.join(dir, file), `${JSON.stringify(value, null, 2)}\n`);
  }
  console.log(`wrote ${path.relative(process.cwd(), dir)}/ (model.onnx ${files.model.byteLength} bytes)`);
}

function makeIris(): void {
  const model = buildModel({
    name: 'iris',
    docString: 'Iris species classifier: 4 measurements in cm -> class probabilities and label.',
    inputs: [{ name: 'input', type: 'FLOAT', shape: ['batch', 4] }],
    outputs: [
      { name: 'probabilities', type: 'FLOAT', shape: ['batch', 3] },
      { name: 'label', type: 'INT64', shape: ['batch'] },
    ],
    initializers: [
      { name: 'W', type: 'FLOAT', dims: [4, 3], values: IRIS_WEIGHTS.flat() },
      { name: 'B', type: 'FLOAT', dims: [3], values: IRIS_BIAS },
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
  const rows = [
    [5.1, 3.5, 1.4, 0.2],
    [6.7, 3.0, 5.2, 2.3],
  ];
  const expected = irisReference(rows);
  const inputs = [{ name: 'input', datatype: 'FP32', shape: [2, 4], data: rows.flat() }];
  writeSample('iris', {
    model,
    meta: {
      name: 'iris',
      description: 'Iris species classifier (setosa, versicolor, virginica)',
      features: IRIS_FEATURES,
    },
    request: { inputs },
    sample: {
      inputs,
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [2, 3], data: expected.probabilities.flat() },
        { name: 'label', datatype: 'INT64', shape: [2], data: expected.label },
      ],
      tolerance: 1e-5,
    },
  });
}

function makeHousePrice(): void {
  const column = (name: string, type: 'FLOAT' | 'INT64') => ({ name, type, shape: ['batch', 1] });
  const model = buildModel({
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
      { name: 'bias', type: 'FLOAT', dims: [1], values: [HOUSE.bias] },
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
  const rows = [
    { area: 84.5, rooms: 3, district: 2, age: 12 },
    { area: 41, rooms: 1, district: 4, age: 55 },
    { area: 130, rooms: 5, district: 0, age: 3 },
  ];
  const inputs = [
    { name: 'area', datatype: 'FP32', shape: [3, 1], data: rows.map((r) => [r.area]) },
    { name: 'rooms', datatype: 'INT64', shape: [3, 1], data: rows.map((r) => [r.rooms]) },
    { name: 'district', datatype: 'INT64', shape: [3, 1], data: rows.map((r) => [r.district]) },
    { name: 'age', datatype: 'FP32', shape: [3, 1], data: rows.map((r) => [r.age]) },
  ];
  writeSample('house-price', {
    model,
    meta: {
      name: 'house-price',
      description: 'House price (thousands) from one input per column, float and int64',
    },
    request: { inputs },
    sample: {
      inputs,
      outputs: [{ name: 'price', datatype: 'FP32', shape: [3, 1], data: houseReference(rows) }],
      tolerance: 1e-3,
    },
  });
}

makeIris();
makeHousePrice();
