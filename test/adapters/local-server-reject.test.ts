/**
 * The local server answers an over-limit body before the core reads it; that answer must still
 * look like every core response: request id, security and CORS headers, one metric event.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalServer, parseTarget } from '../../functions/local/handler';
import { removeTempDirs, sampleApp, type TestApp } from '../support/fixtures';
import { seededRandom } from '../support/random';

const ORIGIN = 'https://app.example.com';
const LIMIT = 1024;

let server: Server;
let base: string;
let events: TestApp['events'];

beforeAll(async () => {
  const test = await sampleApp({ maxBodyBytes: LIMIT, corsOrigins: [ORIGIN], exposeInternals: false });
  events = test.events;
  server = createLocalServer(test.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  removeTempDirs();
});

beforeEach(() => {
  events.length = 0;
});

describe('local server: a body over the limit', () => {
  it('gets the 413 of the core, with request id, CORS and security headers and a metric event', async () => {
    const response = await fetch(`${base}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ORIGIN, 'x-request-id': 'too-big-1' },
      body: 'x'.repeat(LIMIT + 1),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('x-request-id')).toBe('too-big-1');
    expect(response.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    expect(response.headers.get('access-control-expose-headers')).toContain('x-request-id');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(await response.json()).toEqual({
      error: `request body is more than the limit of ${LIMIT} bytes`,
      id: 'too-big-1',
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      requestId: 'too-big-1',
      route: 'infer',
      method: 'POST',
      status: 413,
      errorClass: 'payload_too_large',
    });
    expect(events[0]?.model).toBeUndefined();
  });

  it('generates a request id when the client sends none', async () => {
    const response = await fetch(`${base}/v2/models/iris/infer`, {
      method: 'POST',
      body: 'x'.repeat(LIMIT * 2),
    });
    expect(response.status).toBe(413);
    const id = response.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(response.headers.get('access-control-allow-origin')).toBeNull(); // no Origin sent
    expect(events).toEqual([
      expect.objectContaining({
        requestId: id,
        route: 'infer',
        status: 413,
        errorClass: 'payload_too_large',
      }),
    ]);
  });

  it('still serves a request within the limit on the same server', async () => {
    const body = JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
    });
    const response = await fetch(`${base}/v2/models/iris/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(response.status).toBe(200);
    expect(events).toEqual([expect.objectContaining({ route: 'infer', status: 200, model: 'iris' })]);
  });
});

describe('local server: request targets', () => {
  const byUrl = (target: string) => {
    try {
      const url = new URL(target, 'http://localhost');
      return { path: url.pathname, query: Object.fromEntries(url.searchParams) };
    } catch {
      return undefined;
    }
  };

  it('reads path and query exactly as URL does, with or without its shortcut', () => {
    const random = seededRandom(11);
    const pieces = [
      '/',
      '/',
      'v2',
      'models',
      'a',
      '.',
      '..',
      '%2e',
      '%2F',
      '?',
      'x=1',
      '&',
      '#',
      '\\',
      ' ',
      ':',
      '@',
      '~',
      '-',
      '_',
      '^',
      '`',
      '{',
      '"',
      'é',
      '\t',
      "'",
      '*',
      '+',
      '//',
    ];
    let plain = 0;
    for (let i = 0; i < 5000; i++) {
      const n = 1 + Math.floor(random() * 8);
      let target = random() < 0.9 ? '/' : '';
      for (let k = 0; k < n; k++) target += pieces[Math.floor(random() * pieces.length)];
      if (/^\/[\w/.-]*$/.test(target)) plain++;
      expect(parseTarget(target)).toEqual(byUrl(target));
    }
    expect(plain).toBeGreaterThan(250); // the shortcut's inputs are well represented
    for (const target of [
      '/v2/models/iris/infer',
      '/v2/',
      '/',
      '/v1/models/m:predict',
      '/a/./b',
      '/a/../b',
      '//evil.example/x',
      '/.hidden',
      '/a/.',
      '/a/..',
    ]) {
      expect(parseTarget(target)).toEqual(byUrl(target));
    }
  });
});
