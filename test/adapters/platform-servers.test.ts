import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { HttpRequest } from '@azure/functions';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { fromHttpRequest } from '../../functions/azure/handler';
import { createGcpFunction, withoutBody } from '../../functions/gcp/handler';
import { installRawBodyMode } from '../../functions/gcp/raw-body';
import type { App } from '../../shared/app';
import type { ServeRequest } from '../../shared/http/request';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { removeTempDirs, sampleApp } from '../support/fixtures';

afterAll(removeTempDirs);

const irisBody = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
});

/** The real core, with the requests it was given and its metric events recorded. */
async function recordingApp(): Promise<{ app: App; seen: ServeRequest[]; events: RequestMetricEvent[] }> {
  // One trusted hop, as on Cloud Functions (K_SERVICE): the front end appends the peer it saw.
  const { app, events } = await sampleApp({ stage: 'dev', exposeInternals: false, trustedProxyHops: 1 });
  const seen: ServeRequest[] = [];
  return {
    seen,
    events,
    app: {
      ...app,
      handle: (req) => {
        seen.push(req);
        return app.handle(req);
      },
    },
  };
}

describe('GCP adapter inside the functions-framework server', () => {
  let seen: ServeRequest[];
  let events: RequestMetricEvent[];
  let server: ReturnType<typeof getTestServer>;

  beforeAll(async () => {
    const recording = await recordingApp();
    seen = recording.seen;
    events = recording.events;
    installRawBodyMode(false, (req, err) => recording.app.reject(withoutBody(req, 1), err));
    http('modelfleet-adapter-test', createGcpFunction(recording.app));
    server = getTestServer('modelfleet-adapter-test');
  });

  it('hands the core the raw bytes, the real content type, the query and the client address', async () => {
    const response = await request(server)
      .post('/v2/models/iris/infer?trace=1')
      .set('content-type', 'application/json')
      .set('x-forwarded-for', '198.51.100.1, 203.0.113.9')
      .send(irisBody);
    expect(response.status).toBe(200);
    const last = seen.at(-1);
    expect(last?.headers['content-type']).toBe('application/json');
    expect(last?.query).toEqual({ trace: '1' });
    expect(last?.sourceIp).toBe('203.0.113.9');
    expect(Buffer.from(last?.body as Uint8Array).toString('utf8')).toBe(irisBody);
  });

  it('answers a body the framework cannot read like the core: JSON error, request id, headers, one metric event', async () => {
    const before = seen.length;
    const eventsBefore = events.length;
    const response = await request(server)
      .post('/v2/models/iris/infer')
      .set('content-type', 'application/json')
      .set('content-encoding', 'gzip')
      .set('x-request-id', 'framework-stage-1')
      .send(Buffer.from('not gzip at all'));
    expect(response.status).toBe(400);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.headers['x-request-id']).toBe('framework-stage-1');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.body).toMatchObject({
      error: expect.stringMatching(/^request body could not be read: /),
    });
    expect(seen.length).toBe(before);
    expect(events.slice(eventsBefore)).toEqual([
      expect.objectContaining({
        route: 'infer',
        status: 400,
        errorClass: 'invalid_input',
        requestId: 'framework-stage-1',
      }),
    ]);
  });

  it('inflates a gzip body (the framework does; the core then sees plain JSON)', async () => {
    const listening = server.listen(0, '127.0.0.1');
    await new Promise((resolve) => listening.once('listening', resolve));
    try {
      const { port } = listening.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/v2/models/iris/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(irisBody),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { outputs: unknown[] }).outputs).toHaveLength(2);
    } finally {
      listening.close();
    }
  });
});

describe('Azure adapter translation', () => {
  it.each([
    ['10.0.0.1, 203.0.113.9:51234', '203.0.113.9'],
    ['forged, [2001:db8::1]:443', '2001:db8::1'],
    ['2001:db8::2', '2001:db8::2'],
    ['198.51.100.7', '198.51.100.7'],
  ])('takes the client address from the last X-Forwarded-For entry: %s', async (forwarded, address) => {
    const req = await fromHttpRequest(
      new HttpRequest({
        method: 'GET',
        url: 'http://127.0.0.1/v2',
        headers: { 'x-forwarded-for': forwarded },
      }),
      1,
    );
    expect(req.sourceIp).toBe(address);
  });

  it('keeps bytes as bytes, lower-cases headers and splits the query', async () => {
    const bytes = Uint8Array.from([0, 255, 1, 128]);
    const req = await fromHttpRequest(
      new HttpRequest({
        method: 'POST',
        url: 'http://127.0.0.1/v2/models/iris/infer?a=1&b=%20two',
        headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'abc' },
        body: { bytes },
      }),
      1,
    );
    expect(req).toMatchObject({
      method: 'POST',
      path: '/v2/models/iris/infer',
      query: { a: '1', b: ' two' },
      headers: { 'content-type': 'application/json', 'x-request-id': 'abc' },
    });
    expect(Array.from(req.body as Uint8Array)).toEqual([0, 255, 1, 128]);
    expect(req.sourceIp).toBeUndefined();
  });
});
