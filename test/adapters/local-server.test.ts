import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { removeTempDirs, sampleRepository, sampleRequestText } from '../support/fixtures';
import { ROOT, type Started, startUntil } from '../support/processes';

jest.setTimeout(120_000);

let server: Started;
let base: string;

beforeAll(async () => {
  // `npm start` on a free port and a repository of the user's own (one holding the samples: a
  // named repository is served as it is, never seeded; test/adapters/readme-quickstart.test.ts runs
  // the README's plain `npm start`, which seeds ./model-repository).
  const repository = await sampleRepository();
  const started = await startUntil(
    'npm',
    ['start', '--silent'],
    { PORT: '0', MODEL_REPOSITORY: repository.store.url, METRICS: 'off' },
    /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    // `npm start` builds first: tsc alone took 68 s (14 s of CPU) on the shared 2-core machine.
    110_000,
  );
  server = started;
  base = started.match[1] ?? '';
});

afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

describe('npm start', () => {
  it('serves the samples of a named repository with predictions equal to onnxruntime run directly', async () => {
    const request = sampleRequestText('iris');
    // curl -d sends this content type; the server must accept it.
    const response = await fetch(`${base}/v2/models/iris/infer`, {
      method: 'POST',
      body: request,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-model-variant')).toBe('primary');
    const body = (await response.json()) as { outputs: { name: string; data: number[] }[] };

    const session = await ort.InferenceSession.create(
      readFileSync(path.join(ROOT, 'samples', 'iris', 'model.onnx')),
    );
    const input = JSON.parse(request).inputs[0];
    const direct = await session.run({
      input: new ort.Tensor('float32', Float32Array.from(input.data), input.shape),
    });
    const served = body.outputs.find((o) => o.name === 'probabilities')?.data ?? [];
    const expected = Array.from(direct['probabilities']?.data as Float32Array);
    expect(served).toHaveLength(expected.length);
    served.forEach((value, i) => {
      expect(Math.abs(value - (expected[i] ?? Number.NaN))).toBeLessThanOrEqual(1e-5);
    });
  });

  it('serves the whole OIP surface over HTTP and reports errors as JSON', async () => {
    expect((await fetch(`${base}/v2/health/live`)).status).toBe(200);
    expect((await fetch(`${base}/v2/health/ready`)).status).toBe(200);
    expect(await (await fetch(`${base}/v2/models/house-price/ready`)).json()).toMatchObject({ ready: true });
    const bad = await fetch(`${base}/v2/models/iris/infer`, {
      method: 'POST',
      body: '{"inputs":[{"name":"input"}]}',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'inputs[0].datatype: expected FP32, got nothing' });
  });
});
