import type { ServeRequest } from '../../shared/http/request';
import { setShadow } from '../../shared/repository/deployment';
import {
  json,
  postJson,
  removeTempDirs,
  sampleApp,
  sampleRepository,
  sampleRequest,
} from '../support/fixtures';

// Where features from different issues meet: binary tensors (8) with shadows (4) and the
// hardened body checks (7); the fast JSON reader (8) with the number-range policy (7).
afterAll(removeTempDirs);

const irisRequest = sampleRequest('iris');
const irisRows: number[] = irisRequest.inputs[0].data;

function binaryIris(extra: Record<string, unknown> = {}): ServeRequest {
  const bytes = Buffer.from(Float32Array.from(irisRows).buffer);
  const header = Buffer.from(
    JSON.stringify({
      ...extra,
      inputs: [
        {
          name: 'input',
          datatype: 'FP32',
          shape: [2, 4],
          parameters: { binary_data_size: bytes.byteLength },
        },
      ],
    }),
  );
  return {
    method: 'POST',
    path: '/v2/models/iris/infer',
    query: {},
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(header.length),
    },
    body: Buffer.concat([header, bytes]),
  };
}

describe('binary tensors meet shadows and body checks', () => {
  it('runs the shadow on the same binary body (its bytes are read again from the start)', async () => {
    const repository = await sampleRepository();
    const manifest = await repository.readManifest('iris', 1);
    const shadowVersion = await repository.publish({
      manifest,
      artifact: await repository.readArtifact('iris', 1),
    });
    await repository.updateDeployment('iris', 'local', (current) =>
      setShadow(current, { version: shadowVersion, sampleRate: 1 }, new Date(), 'test'),
    );
    const { app, events } = await sampleApp({ shadowMode: 'inline' }, repository);
    const response = await app.handle(binaryIris());
    expect(response.status).toBe(200);
    expect(events[0]).toMatchObject({ shadowVersion, shadowAgreement: 1 });
    expect(events[0]?.shadowError).toBeUndefined();
  });

  it('refuses prototype keys in the JSON header of a binary request', async () => {
    const { app } = await sampleApp();
    const request = binaryIris();
    const header = '{"__proto__":{"x":1},' + (request.body as Buffer).toString('latin1').slice(1);
    const bytes = Buffer.from(header, 'latin1');
    const headerLength =
      Number(request.headers['inference-header-content-length']) + '"__proto__":{"x":1},'.length;
    const response = await app.handle({
      ...request,
      headers: { ...request.headers, 'inference-header-content-length': String(headerLength) },
      body: bytes,
    });
    expect(response.status).toBe(400);
    expect(json(response)['error']).toContain('key "__proto__"');
  });
});

describe('the fast JSON reader keeps the number policy', () => {
  // Bodies over 2 KB take the fast reader; pad with more rows so this one does.
  const rows = Array.from({ length: 200 }, () => [5.1, 3.5, 1.4, 0.2]);

  it('refuses FP32 values beyond float32 range by index instead of passing Infinity to the model', async () => {
    const { app } = await sampleApp();
    rows[3] = [5.1, 1e39, 1.4, 0.2];
    const body = { inputs: [{ name: 'input', datatype: 'FP32', shape: [200, 4], data: rows }] };
    const response = await app.handle(postJson('/v2/models/iris/infer', body));
    expect(response.status).toBe(400);
    expect(json(response)['error']).toMatch(/^inputs\[0\]\.data: element 13 \(row-major\) is 1e\+39/);
  });

  it('refuses numbers too large for a double (1e400) in a large body', async () => {
    const { app } = await sampleApp();
    const text = JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [200, 4], data: rows }],
    });
    const response = await app.handle(postJson('/v2/models/iris/infer', text.replace('1.4', '1e400')));
    expect(response.status).toBe(400);
    expect(json(response)['error']).toContain('too large for a double');
  });
});
