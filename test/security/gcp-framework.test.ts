/**
 * Issue 13, items 3 and 8, on the functions-framework server (the GCP entry point's HTTP stack):
 * a gzip bomb inflated before authentication, and X-Forwarded-For deciding the rate-limit identity.
 */
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { createGcpFunction, withoutBody } from '../../functions/gcp/handler';
import { installRawBodyMode } from '../../functions/gcp/raw-body';
import { parseConfig } from '../../shared/config';
import { removeTempDirs } from '../support/fixtures';
import { seededRandom } from '../support/random';
import { FUZZ_LIMITS, hostileRequests, problemWith } from './hostile';
import { API_KEYS, KEYS, securedApp } from './support';

afterAll(removeTempDirs);

const MB = 1024 * 1024;
const IRIS = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
});

async function frameworkServer(name: string, env: Record<string, string>) {
  const { app, events } = await securedApp({ API_KEYS, ...env });
  installRawBodyMode(
    false,
    (req, err) => app.reject(withoutBody(req, app.config.trustedProxyHops), err),
    app.config.maxBodyBytes,
  );
  http(name, createGcpFunction(app));
  const server = getTestServer(name).listen(0, '127.0.0.1') as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, events, base };
}

describe('functions-framework server: gzip bodies', () => {
  it('refuses a gzip bomb at MAX_BODY_BYTES while inflating, before authentication, with bounded RSS', async () => {
    const { server, base } = await frameworkServer('gzip-bomb', { RATE_LIMIT_CLIENT_RPS: '0' });
    try {
      // 256 gzip members of 1 MiB of zeros each: ≈ 260 KB on the wire, 256 MiB inflated.
      const member = gzipSync(Buffer.alloc(MB));
      const bomb = Buffer.concat(Array.from({ length: 256 }, () => member));
      expect(bomb.byteLength).toBeLessThan(300 * 1024);
      const before = process.memoryUsage().rss;
      const started = performance.now();
      const response = await fetch(`${base}/v2/models/iris/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: bomb,
      });
      const ms = performance.now() - started;
      const grown = process.memoryUsage().rss - before;
      expect(response.status).toBe(413);
      expect(((await response.json()) as { error: string }).error).toBe(
        `request body inflates to more than the limit of ${6 * MB} bytes`,
      );
      // Before: the framework inflated all 256 MiB (+500 MB RSS, seconds of CPU) before the function ran.
      expect(grown).toBeLessThan(64 * MB);
      expect(ms).toBeLessThan(2000);

      const unknown = await fetch(`${base}/v2/models/iris/infer`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'br', 'x-api-key': KEYS.predict },
        body: IRIS,
      });
      expect(unknown.status).toBe(415);
      const gzipped = await fetch(`${base}/v2/models/iris/infer`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'x-api-key': KEYS.predict,
        },
        body: gzipSync(IRIS),
      });
      expect(gzipped.status).toBe(200);
    } finally {
      server.close();
    }
  });
});

describe('functions-framework server: the client address for rate limits', () => {
  const limits = { RATE_LIMIT_CLIENT_RPS: '1', RATE_LIMIT_CLIENT_BURST: '2', RATE_LIMIT_KEY_RPS: '0' };
  const infer = (base: string, forwardedFor: string) =>
    fetch(`${base}/v2/models/iris/infer`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': KEYS.predict,
        'x-forwarded-for': forwardedFor,
      },
      body: IRIS,
    }).then((r) => r.status);

  it('trusts no X-Forwarded-For entry by default: forged addresses still meet the limit', async () => {
    const { server, base } = await frameworkServer('xff-default', limits);
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push(await infer(base, `198.51.100.${i}`));
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(27);
    } finally {
      server.close();
    }
  });

  it('with one trusted hop (Cloud Run / Cloud Functions), takes the entry the front end appended', async () => {
    const { server, base } = await frameworkServer('xff-one-hop', { ...limits, TRUSTED_PROXY_HOPS: '1' });
    try {
      // The attacker (203.0.113.9 as the front end saw it) forges the victim's address in front.
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push(await infer(base, `198.51.100.7, 203.0.113.9`));
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(27);
      // The victim's own bucket is untouched.
      expect(await infer(base, '198.51.100.7')).toBe(200);
    } finally {
      server.close();
    }
  });

  it('defaults to one hop only where the platform runs it, and reads TRUSTED_PROXY_HOPS', () => {
    expect(parseConfig({}).trustedProxyHops).toBe(0);
    expect(parseConfig({ K_SERVICE: 'modelfleet' }).trustedProxyHops).toBe(1);
    expect(parseConfig({ WEBSITE_INSTANCE_ID: 'abc' }).trustedProxyHops).toBe(1);
    expect(parseConfig({ K_SERVICE: 'modelfleet', TRUSTED_PROXY_HOPS: '2' }).trustedProxyHops).toBe(2);
    expect(() => parseConfig({ TRUSTED_PROXY_HOPS: '-1' })).toThrow('TRUSTED_PROXY_HOPS');
  });
});

describe('functions-framework server: hostile requests', () => {
  it('answers 1,000 of them (the fuzz generator) with a 4xx and a JSON message, none with a 5xx', async () => {
    const { server, base } = await frameworkServer('fuzz', {
      MAX_BODY_BYTES: String(FUZZ_LIMITS.maxBodyBytes),
      RATE_LIMIT_KEY_RPS: '0',
      RATE_LIMIT_CLIENT_RPS: '0',
    });
    const { port } = new URL(base);
    try {
      const failures: string[] = [];
      for (const hostile of hostileRequests(seededRandom(13), 1000)) {
        const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = request(
            { host: '127.0.0.1', port, method: hostile.method, path: hostile.path, headers: hostile.headers },
            (res) => {
              let text = '';
              res.on('data', (chunk: Buffer) => {
                text += chunk.toString('utf8');
              });
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
            },
          );
          req.on('error', reject);
          req.end(hostile.body);
        });
        // Node's own parser refuses a GET or DELETE that carries a chunked body with a bare 400
        // (no body), before the framework or the function runs: a 4xx all the same.
        const bareParserRefusal = status === 400 && body === '' && hostile.kind === 'bad-method';
        const problem = bareParserRefusal ? undefined : problemWith(status, body);
        if (problem !== undefined && failures.length < 10) {
          failures.push(
            `${hostile.kind} ${hostile.method} ${hostile.path}: ${problem} ${body.slice(0, 160)}`,
          );
        }
      }
      expect(failures).toEqual([]);
    } finally {
      server.close();
    }
  });
});
