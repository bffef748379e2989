import type { AddressInfo } from 'node:net';
import { createLocalServer } from '../../functions/local/handler';
import { json, postJson, removeTempDirs, sampleApp, type TestApp } from '../support/fixtures';
import { houseRequest, IRIS_FEATURES, irisRequest } from '../traffic/support';

let shared: TestApp;
beforeAll(async () => {
  shared = await sampleApp();
});
afterAll(removeTempDirs);

type Tensor = { name: string; shape: number[]; data: number[] };

const irisRows = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];
const irisRecords = irisRows.map((row) => Object.fromEntries(IRIS_FEATURES.map((f, i) => [f, row[i]])));
const houseColumns = ['area', 'rooms', 'district', 'age'];
const houseRows = [
  [84.5, 3, 2, 12],
  [41, 1, 4, 55],
  [130, 5, 0, 3],
];
const houseRecords = houseRows.map((row) => Object.fromEntries(houseColumns.map((c, i) => [c, row[i]])));
const houseColumnar = Object.fromEntries(houseColumns.map((c, i) => [c, houseRows.map((row) => row[i])]));

/** A request with ?model= as the local adapter would build it. */
function invocations(body: unknown, query: Record<string, string> = { model: 'iris' }, headers = {}) {
  return { ...postJson('/invocations', body, headers), query };
}

async function oipOutputs(model: string, request: unknown): Promise<Map<string, Tensor>> {
  const { app } = await sampleApp();
  const body = json(await app.handle(postJson(`/v2/models/${model}/infer`, request)));
  return new Map((body['outputs'] as Tensor[]).map((t) => [t.name, t]));
}

/** Nested rows of an OIP output, as MLflow and TF-Serving return them. */
function rows(tensor: Tensor | undefined): unknown[] {
  if (tensor === undefined) throw new Error('missing output');
  if (tensor.shape.length === 1) return tensor.data;
  const width = tensor.shape[1] ?? 1;
  return Array.from({ length: tensor.shape[0] ?? 0 }, (_, r) =>
    tensor.data.slice(r * width, (r + 1) * width),
  );
}

describe('MLflow scoring payloads', () => {
  it('returns the OIP predictions for the same rows in every MLflow input format', async () => {
    const { app } = await sampleApp();
    const iris = await oipOutputs('iris', irisRequest);
    const house = await oipOutputs('house-price', houseRequest);
    const irisExpected = {
      probabilities: rows(iris.get('probabilities')),
      label: rows(iris.get('label')),
    };
    const irisBodies = [
      { dataframe_split: { columns: IRIS_FEATURES, data: irisRows } },
      {
        dataframe_split: {
          index: [0, 1],
          columns: [...IRIS_FEATURES].reverse(),
          data: irisRows.map((r) => [...r].reverse()),
        },
      },
      { dataframe_records: irisRecords },
      { dataframe_split: { data: irisRows } },
      { instances: irisRows },
      { instances: irisRecords },
      { inputs: irisRows },
      { inputs: { input: irisRows } },
      { inputs: Object.fromEntries(IRIS_FEATURES.map((f, i) => [f, irisRows.map((r) => r[i])])), params: {} },
    ];
    for (const body of irisBodies) {
      const response = await app.handle(invocations(body));
      expect({ body, status: response.status }).toEqual({ body, status: 200 });
      expect(json(response)).toEqual({
        predictions: irisExpected,
        model_name: 'iris',
        model_version: '1',
        id: response.headers['x-request-id'],
        parameters: { variant: 'primary' },
      });
      expect(response.headers).toMatchObject({ 'x-model-variant': 'primary', 'x-model-version': '1' });
    }
    const houseBodies = [
      { dataframe_split: { columns: houseColumns, data: houseRows } },
      { dataframe_records: houseRecords },
      { dataframe_split: { data: houseRows } },
      { instances: houseRecords },
      { inputs: houseColumnar },
    ];
    for (const body of houseBodies) {
      const response = await app.handle(invocations(body, {}, { 'x-model-name': 'house-price' }));
      expect({ body, status: response.status }).toEqual({ body, status: 200 });
      expect(json(response)['predictions']).toEqual(rows(house.get('price')));
    }
  });

  it('pins a version from the query or header', async () => {
    const { app } = await sampleApp();
    const response = await app.handle(invocations({ instances: irisRows }, { model: 'iris', version: '1' }));
    expect(response.headers).toMatchObject({ 'x-model-variant': 'pinned', 'x-model-version': '1' });
    const missing = await app.handle(invocations({ instances: irisRows }, { model: 'iris', version: '9' }));
    expect(missing.status).toBe(404);
  });

  it.each([
    [
      { instances: irisRows },
      {},
      'model: name the model with the ?model=NAME query parameter or the x-model-name header',
    ],
    [[1, 2], { model: 'iris' }, 'request body: expected a JSON object with one of dataframe_split'],
    [
      {},
      { model: 'iris' },
      'request body: expected exactly one of dataframe_split, dataframe_records, instances, inputs, got none',
    ],
    [{ instances: irisRows, inputs: irisRows }, { model: 'iris' }, 'got instances and inputs'],
    [{ instancez: irisRows }, { model: 'iris' }, 'request body: unknown field "instancez"'],
    [
      { dataframe_split: { columns: IRIS_FEATURES, data: [[1, 2, 3]] } },
      { model: 'iris' },
      'dataframe_split.data[0]: expected an array of 4 values (one per column), got 3 values',
    ],
    [
      { dataframe_split: { columns: ['a', 'a'], data: [[1, 2]] } },
      { model: 'iris' },
      'dataframe_split.columns: "a" appears twice',
    ],
    [
      { dataframe_split: { columns: ['sepal_length', 'petal_lenght'], data: [[1, 2]] } },
      { model: 'iris' },
      'dataframe_split: unknown column "petal_lenght"; model "iris" takes the columns sepal_length',
    ],
    [
      { dataframe_records: [{ sepal_length: 1, sepal_width: 2, petal_length: 3 }] },
      { model: 'iris' },
      'dataframe_records: missing column "petal_width"',
    ],
    [
      { dataframe_records: [irisRecords[0], { sepal_length: 1 }] },
      { model: 'iris' },
      'dataframe_records[1]: missing column "sepal_width"',
    ],
    [
      { dataframe_records: [{ ...irisRecords[0], sepal_width: 'wide' }] },
      { model: 'iris' },
      'dataframe_records.data: element 1 (row-major) is "wide", expected a number for FP32',
    ],
    [{ dataframe_records: [] }, { model: 'iris' }, 'dataframe_records: no rows'],
    [{ instances: [[1, 2, 3]] }, { model: 'iris' }, 'instances.shape[1]: expected 4 [-1,4], got 3 [1,3]'],
    [
      { inputs: irisRows },
      { model: 'house-price' },
      'inputs: model "house-price" has 4 inputs (area, rooms, district, age); send an object naming each',
    ],
    [
      { dataframe_records: houseRecords.map((r) => ({ ...r, rooms: 2.5 })) },
      { model: 'house-price' },
      'dataframe_records["rooms"].data: element 0 (row-major) is 2.5, expected an integer',
    ],
    [
      { inputs: { ...houseColumnar, age: [1, 2] } },
      { model: 'house-price' },
      'inputs["age"]: has 2 values, but "area" has 3; columns must be the same length',
    ],
    [
      { dataframe_split: { columns: ['area'], data: [[1]] } },
      { model: 'house-price' },
      'dataframe_split: missing column "rooms", "district", "age"; model "house-price" takes area (FP32 [-1,1])',
    ],
    [{ inputs: irisRows, params: 3 }, { model: 'iris' }, 'params: expected an object, got number'],
  ])('refuses %j (query %j) with a 400 naming the problem', async (body, query, message) => {
    const { app } = shared;
    const response = await app.handle(invocations(body, query as Record<string, string>));
    expect(response.status).toBe(400);
    expect(json(response)['error']).toContain(message);
  });
});

describe('TF-Serving predict payloads', () => {
  it('answers the row format with predictions and the columnar format with outputs, as OIP computes them', async () => {
    const { app } = await sampleApp();
    const iris = await oipOutputs('iris', irisRequest);
    const house = await oipOutputs('house-price', houseRequest);
    const probabilities = rows(iris.get('probabilities'));
    const labels = rows(iris.get('label'));

    const rowsResponse = await app.handle(postJson('/v1/models/iris:predict', { instances: irisRows }));
    expect(rowsResponse.status).toBe(200);
    expect(json(rowsResponse)).toMatchObject({
      predictions: probabilities.map((p, i) => ({ probabilities: p, label: labels[i] })),
      model_name: 'iris',
      model_version: '1',
      parameters: { variant: 'primary' },
    });
    expect(rowsResponse.headers).toMatchObject({ 'x-model-variant': 'primary', 'x-model-version': '1' });

    const columnar = await app.handle(
      postJson('/v1/models/iris/versions/1:predict', { signature_name: 'serving_default', inputs: irisRows }),
    );
    expect(json(columnar)['outputs']).toEqual({ probabilities, label: labels });
    expect(columnar.headers['x-model-variant']).toBe('pinned');

    const named = await app.handle(postJson('/v1/models/iris:predict', { inputs: { input: irisRows } }));
    expect(json(named)['outputs']).toEqual({ probabilities, label: labels });

    const price = rows(house.get('price'));
    for (const body of [{ instances: houseRecords }, { inputs: houseColumnar }]) {
      const response = await app.handle(postJson('/v1/models/house-price:predict', body));
      expect({ body, status: response.status }).toEqual({ body, status: 200 });
      expect(json(response)['instances' in body ? 'predictions' : 'outputs']).toEqual(price);
    }
  });

  it.each([
    [
      'iris',
      { instances: irisRows, inputs: irisRows },
      'expected exactly one of "instances" (row format) or "inputs" (columnar format), got both',
    ],
    ['iris', {}, 'got neither'],
    ['iris', { instances: irisRows, extra: 1 }, 'request body: unknown field "extra"'],
    [
      'iris',
      { signature_name: 'predict_proba', instances: irisRows },
      'signature_name: model "iris" has only the "serving_default" signature',
    ],
    ['iris', { instances: 'rows' }, 'instances: expected an array (one entry per row), got string'],
    [
      'iris',
      {
        instances: [
          [1, 2, 3, 4],
          [1, 2, 3],
        ],
      },
      'instances.data[1]: expected 4 elements at depth 1',
    ],
    [
      'iris',
      { instances: [[1, 2, 3, null]] },
      'instances.data: element 3 (row-major) is null, expected a number for FP32',
    ],
    ['house-price', { instances: [{ area: 1, rooms: 1, district: 1 }] }, 'instances: missing column "age"'],
    [
      'house-price',
      { inputs: { area: [1], rooms: [1], district: [1], age: 'old' } },
      'inputs["age"]: expected an array (one entry per row), got string',
    ],
    ['house-price', { instances: [[1, 2, 3, 4]] }, 'instances: model "house-price" has 4 inputs'],
  ])('refuses a malformed %s request %j with a 400 naming the problem', async (model, body, message) => {
    const { app } = shared;
    const response = await app.handle(postJson(`/v1/models/${model}:predict`, body));
    expect(response.status).toBe(400);
    expect(json(response)['error']).toContain(message);
  });

  it('answers unknown models with 404 and bad JSON with 400', async () => {
    const { app } = await sampleApp();
    expect((await app.handle(postJson('/v1/models/nope:predict', { instances: [[1]] }))).status).toBe(404);
    const bad = await app.handle(postJson('/v1/models/iris:predict', '{"instances": ['));
    expect(bad.status).toBe(400);
    expect(json(bad)['error']).toContain('request body is not valid JSON');
  });
});

describe('over the local HTTP adapter', () => {
  it('takes ?model= from the URL and a colon in the TF-Serving path', async () => {
    const server = createLocalServer(shared.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const mlflow = await fetch(`http://127.0.0.1:${port}/invocations?model=iris`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ dataframe_records: irisRecords }),
      });
      expect(mlflow.status).toBe(200);
      expect(mlflow.headers.get('x-model-variant')).toBe('primary');
      expect(((await mlflow.json()) as { predictions: { label: number[] } }).predictions.label).toEqual([
        0, 2,
      ]);
      const tf = await fetch(`http://127.0.0.1:${port}/v1/models/iris:predict`, {
        method: 'POST',
        body: JSON.stringify({ instances: irisRows }),
      });
      expect(tf.status).toBe(200);
      expect(
        ((await tf.json()) as { predictions: { label: number }[] }).predictions.map((p) => p.label),
      ).toEqual([0, 2]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
