/**
 * The managed-endpoint contracts end to end: the server's entry (dist/scripts/serve.js, built by
 * `npm run build` as `npm start` does) started as each platform starts the container — its
 * variables, a working directory of its own, the model in a mounted folder (or a gs:// bucket for
 * Vertex) — and called over HTTP the way the platform's front end calls it.
 */
import { cpSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { publishMissingSamples } from '../../scripts/lib/samples';
import { ModelRepository } from '../../shared/repository/repository';
import { FsModelStore, openStore } from '../../shared/store';
import { type FakeGcs, startFakeGcs } from '../fakes/gcs-json-api-fake';
import { API_KEYS, KEYS } from '../security/support';
import { removeTempDirs, tempDir } from '../support/fixtures';
import { ROOT, runToEnd, type Started, startUntil } from '../support/processes';

jest.setTimeout(180_000);

const IRIS_ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3, 5.2, 2.3],
];
const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

interface IrisPredictions {
  predictions: { label: number[]; probabilities: number[][] };
}

const servers: Started[] = [];
let repositoryRoot: string;
let packageRoot: string;

/** The container's entry with only the platform's variables (plus a key set: the stage is prod). */
async function startContainer(env: Record<string, string>): Promise<string> {
  const workdir = tempDir('modelfleet-workdir-');
  const started = await startUntil(
    process.execPath,
    [path.join(ROOT, 'dist', 'scripts', 'serve.js')],
    { HOST: '127.0.0.1', MODELFLEET_STAGE: 'prod', API_KEYS, METRICS: 'off', ...env },
    /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    60_000,
    workdir,
  );
  servers.push(started);
  return started.match[1] ?? '';
}

function post(url: string, body: string | Uint8Array, headers: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body, headers });
}

/** A .npy file (format 1.0) of float32 values in C order. */
function npy(rows: number[][]): Buffer {
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows.length}, ${rows[0]?.length}), }`;
  const padded = header.padEnd(Math.ceil((header.length + 11) / 64) * 64 - 11, ' ');
  const prefix = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(prefix);
  prefix.writeUInt16LE(padded.length + 1, 8);
  return Buffer.concat([
    prefix,
    Buffer.from(`${padded}\n`, 'latin1'),
    Buffer.from(Float32Array.from(rows.flat()).buffer),
  ]);
}

beforeAll(async () => {
  const build = await runToEnd('npm', ['run', 'build', '--silent'], {}, 170_000);
  if (build.code !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
  // A small repository with both samples served on prod, and a single package (iris version 1)
  // copied out of it: the two shapes a model tarball unpacks to.
  const repository = new ModelRepository(new FsModelStore(tempDir('modelfleet-repo-')));
  await publishMissingSamples(repository, ['prod']);
  repositoryRoot = (repository.store as FsModelStore).root;
  packageRoot = path.join(tempDir('modelfleet-opt-'), 'opt', 'ml', 'model');
  mkdirSync(packageRoot, { recursive: true });
  cpSync(path.join(repositoryRoot, 'iris', '1'), packageRoot, { recursive: true });
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  removeTempDirs();
});

describe('SageMaker bring-your-own-container', () => {
  let base: string;
  beforeAll(async () => {
    base = await startContainer({
      SERVING_CONTRACT: 'sagemaker',
      SM_MODEL_DIR: packageRoot,
      SAGEMAKER_BIND_TO_PORT: '0',
    });
  });

  it('answers /ping once the model is loaded, and /invocations in JSON, CSV and NPY alike', async () => {
    expect((await fetch(`${base}/ping`)).status).toBe(200);
    const json = await post(`${base}/invocations`, JSON.stringify({ instances: IRIS_ROWS }), {
      'content-type': 'application/json',
    });
    expect(json.status).toBe(200);
    expect(json.headers.get('x-amzn-sagemaker-custom-attributes')).toBe(
      'name=iris;version=1;variant=primary',
    );
    const expected = ((await json.json()) as IrisPredictions).predictions;
    expect(expected.label).toEqual([0, 2]);
    const csv = IRIS_ROWS.map((row) => row.join(',')).join('\n');
    const bodies: [string, string | Uint8Array][] = [
      ['text/csv', `${csv}\n`],
      ['text/csv; charset=utf-8', `${IRIS_FEATURES.join(',')}\r\n${csv}`],
      ['application/x-npy', npy(IRIS_ROWS)],
    ];
    for (const [type, body] of bodies) {
      const response = await post(`${base}/invocations`, body, { 'content-type': type });
      expect({ type, status: response.status }).toEqual({ type, status: 200 });
      const { predictions } = (await response.json()) as IrisPredictions;
      expect(predictions.label).toEqual(expected.label);
      predictions.probabilities.flat().forEach((p, i) => {
        expect(Math.abs(p - (expected.probabilities.flat()[i] ?? Number.NaN))).toBeLessThan(1e-6);
      });
    }
  });

  it('refuses other content types with 415 and bad bodies with a 400 naming the problem', async () => {
    const cases: [string, string, number, string][] = [
      [
        'text/plain',
        'x',
        415,
        'SageMaker invocations take application/json, text/csv or application/x-npy, got "text/plain"',
      ],
      ['text/csv', '1,2,3,4\n5,6\n', 400, 'text/csv line 2: 2 cells, expected 4'],
      ['text/csv', '1,2,x,4\n', 400, 'text/csv line 1, column 3: expected a number, got "x"'],
      ['application/x-npy', 'not numpy', 400, 'not a .npy file'],
      ['application/json', '{"instances": [[1, 2]]}', 400, 'instances'],
      ['application/json', '{"instances": ', 400, 'JSON'],
    ];
    for (const [type, body, status, message] of cases) {
      const response = await post(`${base}/invocations`, body, { 'content-type': type });
      const answer = (await response.json()) as { error: string };
      expect({ type, body, status: response.status }).toEqual({ type, body, status });
      expect(answer.error).toContain(message);
      expect(answer.error).not.toMatch(/\n\s+at /);
    }
  });

  it('keeps the core routes behind their keys and serves /metrics to an admin key only', async () => {
    const oip = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: IRIS_ROWS[0] }] };
    const infer = (headers: Record<string, string>) =>
      post(`${base}/v2/models/iris/infer`, JSON.stringify(oip), {
        'content-type': 'application/json',
        ...headers,
      });
    expect((await infer({})).status).toBe(401);
    expect((await infer({ 'x-api-key': KEYS.predict })).status).toBe(200);
    expect((await fetch(`${base}/metrics`, { headers: { 'x-api-key': KEYS.predict } })).status).toBe(403);
    const metrics = await fetch(`${base}/metrics`, { headers: { 'x-api-key': KEYS.admin } });
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toMatch(
      /^modelfleet_requests_total\{route="mlflow_invocations",model="iris",variant="primary",version="1",status_class="2xx"\} [1-9]\d*$/m,
    );
    expect(text).toMatch(
      /^modelfleet_request_errors_total\{route="mlflow_invocations",[^}]*status_class="4xx",error_class="unsupported_media_type"\} 1$/m,
    );
  });
});

describe('SageMaker multi-model endpoint (a repository mounted)', () => {
  let base: string;
  beforeAll(async () => {
    base = await startContainer({
      SERVING_CONTRACT: 'sagemaker',
      SM_MODEL_DIR: repositoryRoot,
      SAGEMAKER_BIND_TO_PORT: '0',
    });
  });

  it('routes by X-Amzn-SageMaker-Target-Model and pins a version from CustomAttributes', async () => {
    const housesCsv = 'area,rooms,district,age\n84.5,3,1,12\n41,1,2,40\n';
    const houses = await post(`${base}/invocations`, housesCsv, {
      'content-type': 'text/csv',
      accept: 'text/csv',
      'x-amzn-sagemaker-target-model': 'house-price.tar.gz',
    });
    expect(houses.status).toBe(200);
    expect(houses.headers.get('content-type')).toBe('text/csv');
    const lines = (await houses.text()).trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(Number(line)).toBeGreaterThan(0);
    const iris = await post(`${base}/invocations`, `${IRIS_ROWS[0]?.join(',')}\n`, {
      'content-type': 'text/csv',
      'x-amzn-sagemaker-target-model': 'models/iris.tar.gz',
      'x-amzn-sagemaker-custom-attributes': 'trace=abc;version=1',
    });
    expect(iris.status).toBe(200);
    expect(iris.headers.get('x-amzn-sagemaker-custom-attributes')).toBe('name=iris;version=1;variant=pinned');
    // A single-model endpoint forwards no TargetModel: CustomAttributes name the model there.
    const byAttribute = await post(`${base}/invocations`, `${IRIS_ROWS[0]?.join(',')}\n`, {
      'content-type': 'text/csv',
      'x-amzn-sagemaker-custom-attributes': 'model=iris',
    });
    expect(byAttribute.headers.get('x-amzn-sagemaker-custom-attributes')).toBe(
      'name=iris;version=1;variant=primary',
    );
  });

  it('answers 404 for an unknown target model and 400 when none is named among several', async () => {
    const unknown = await post(`${base}/invocations`, '1,2,3,4\n', {
      'content-type': 'text/csv',
      'x-amzn-sagemaker-target-model': 'nope.tar.gz',
    });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: string }).error).toBe('model "nope" not found');
    const unnamed = await post(`${base}/invocations`, '1,2,3,4\n', { 'content-type': 'text/csv' });
    expect(unnamed.status).toBe(400);
    expect(((await unnamed.json()) as { error: string }).error).toBe(
      'the mount holds 2 models (house-price, iris): name one with X-Amzn-SageMaker-Target-Model or CustomAttributes model=NAME, or set SERVED_MODEL',
    );
  });
});

describe('Vertex AI custom container', () => {
  const health = '/v1/endpoints/123/deployedModels/456';
  const predict = '/v1/endpoints/123/deployedModels/456:predict';
  let gcs: FakeGcs;

  beforeAll(async () => {
    gcs = await startFakeGcs();
    // Vertex copies the model's artifact folder to its own bucket and names it in AIP_STORAGE_URI.
    const bucket = openStore('gs://vertex-staging/model-artifacts', { gcsApiEndpoint: gcs.endpoint });
    const pkg = new FsModelStore(packageRoot);
    for (const file of ['manifest.json', 'model.onnx']) {
      const read = await pkg.get(file);
      if (read.status !== 'ok') throw new Error(`${file} missing from the package`);
      await bucket.put(file, read.body);
    }
  });
  afterAll(() => gcs.close());

  it('serves the AIP_* routes on AIP_HTTP_PORT: instances in, one prediction per instance out', async () => {
    const base = await startContainer({
      AIP_HTTP_PORT: '0',
      AIP_HEALTH_ROUTE: health,
      AIP_PREDICT_ROUTE: predict,
      AIP_STORAGE_URI: 'gs://vertex-staging/model-artifacts',
      GCS_API_ENDPOINT: gcs.endpoint,
    });
    expect((await fetch(`${base}${health}`)).status).toBe(200);
    const response = await post(`${base}${predict}`, JSON.stringify({ instances: IRIS_ROWS }), {
      'content-type': 'application/json',
    });
    expect(response.status).toBe(200);
    const { predictions } = (await response.json()) as { predictions: { label: number }[] };
    expect(predictions.map((p) => p.label)).toEqual([0, 2]);
    const bad = await post(`${base}${predict}`, JSON.stringify({ instances: 'all' }), {
      'content-type': 'application/json',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe(
      'instances: expected an array (one entry per row), got string',
    );
  });
});

describe('Azure ML managed online endpoint (custom container)', () => {
  let base: string;
  beforeAll(async () => {
    // A registered model folder holding the package in a sub-folder, mounted under AZUREML_MODEL_DIR.
    const modelDir = path.join(tempDir('modelfleet-azureml-'), 'azureml-models', 'iris', '1');
    cpSync(packageRoot, path.join(modelDir, 'iris-package'), { recursive: true });
    base = await startContainer({ AZUREML_MODEL_DIR: modelDir, PORT: '0' });
  });

  it('answers the liveness, readiness and scoring routes, with input_data or MLflow bodies', async () => {
    expect((await fetch(`${base}/live`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    const bodies = [
      { input_data: { columns: IRIS_FEATURES, index: [0, 1], data: IRIS_ROWS } },
      { input_data: IRIS_ROWS },
      { dataframe_split: { columns: IRIS_FEATURES, data: IRIS_ROWS } },
    ];
    for (const body of bodies) {
      const response = await post(`${base}/score`, JSON.stringify(body), {
        'content-type': 'application/json',
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as IrisPredictions).predictions.label).toEqual([0, 2]);
    }
  });

  it('refuses unknown columns and non-JSON bodies with a clear 4xx', async () => {
    const columns = await post(
      `${base}/score`,
      JSON.stringify({ input_data: { columns: ['x'], data: [[1]] } }),
      {
        'content-type': 'application/json',
      },
    );
    expect(columns.status).toBe(400);
    expect(((await columns.json()) as { error: string }).error).toContain('"x"');
    const xml = await post(`${base}/score`, '<rows/>', { 'content-type': 'application/xml' });
    expect(xml.status).toBe(415);
    expect(((await xml.json()) as { error: string }).error).toBe(
      'content-type application/xml is not supported; send application/json',
    );
    const other = await post(`${base}/score`, '{}', {
      'content-type': 'application/json',
      'x-model-name': 'nope',
    });
    expect(other.status).toBe(404);
  });
});
