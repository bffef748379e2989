/**
 * Regenerates the bundled sample models in samples/. Expected outputs are computed here in plain
 * JavaScript from the same weights, independently of onnxruntime, so packaging a sample checks the
 * graph against the arithmetic it is meant to do.
 *
 *   npm run samples
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './lib/paths';
import {
  housePriceModel,
  houseReference,
  IRIS_FEATURES,
  irisModel,
  irisReference,
} from './lib/sample-models';

const SAMPLES_DIR = path.join(projectRoot(), 'samples');

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
  const model = irisModel();
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
  const model = housePriceModel();
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
