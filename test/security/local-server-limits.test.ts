/**
 * Issue 13, item 9: the local server read whole bodies before checking credentials and kept
 * Node's 300 s request timeout, so stalled uploads held connections (and memory) for minutes.
 */
import type { Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { createLocalServer, LOCAL_SERVER_LIMITS } from '../../functions/local/handler';
import { removeTempDirs } from '../support/fixtures';
import { API_KEYS, KEYS, securedApp } from './support';

afterAll(removeTempDirs);

async function listening(limits: Parameters<typeof createLocalServer>[1] = {}) {
  const { app, events } = await securedApp({ API_KEYS, RATE_LIMIT_CLIENT_RPS: '0', RATE_LIMIT_KEY_RPS: '0' });
  const server = createLocalServer(app, limits);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, events, port: (server.address() as AddressInfo).port };
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Opens a raw connection, writes `head`, and collects what comes back until the server closes it. */
function rawRequest(
  port: number,
  head: string,
): { socket: net.Socket; answer: Promise<{ text: string; ms: number }> } {
  const started = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  socket.write(head);
  const answer = new Promise<{ text: string; ms: number }>((resolve) => {
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve({ text, ms: performance.now() - started }));
  });
  return { socket, answer };
}

const MB = 1024 * 1024;
const headers = (extra: string) =>
  `POST /v2/models/iris/infer HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${MB}\r\n${extra}\r\n`;

describe('local server: refusals before the body, and timeouts', () => {
  it('answers an unauthenticated upload with 401 from its headers and closes, without waiting for the body', async () => {
    const { server, port, events } = await listening();
    try {
      const { answer } = rawRequest(port, headers(''));
      const { text, ms } = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 401 /);
      expect(text.toLowerCase()).toContain('connection: close');
      expect(ms).toBeLessThan(2000);
      expect(events.map((e) => [e.route, e.status])).toEqual([['infer', 401]]);
      // A declared length over the limit is refused from the header too, once the key is good.
      const tooBig = rawRequest(
        port,
        headers(`x-api-key: ${KEYS.predict}\r\n`).replace(`${MB}`, `${64 * MB}`),
      );
      expect((await tooBig.answer).text).toMatch(/^HTTP\/1\.1 413 /);
    } finally {
      await close(server);
    }
  });

  it('closes a stalled upload after the request timeout, and its defaults are tens of seconds', async () => {
    expect(LOCAL_SERVER_LIMITS.requestTimeoutMs).toBeLessThanOrEqual(60_000);
    expect(LOCAL_SERVER_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(60_000);
    expect(LOCAL_SERVER_LIMITS.idleTimeoutMs).toBeLessThanOrEqual(120_000);
    const { server, port } = await listening({ requestTimeoutMs: 1000, headersTimeoutMs: 1000 });
    try {
      // Authenticated, so the server reads the body: 1 KB of the declared 1 MB, then nothing.
      const { socket, answer } = rawRequest(port, headers(`x-api-key: ${KEYS.predict}\r\n`));
      socket.write('{"inputs":['.padEnd(1024, ' '));
      const { text, ms } = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 408 /);
      expect(ms).toBeLessThan(3000);
    } finally {
      await close(server);
    }
  });

  it('caps the number of connections', async () => {
    const { server, port } = await listening({ maxConnections: 3 });
    try {
      const sockets = Array.from({ length: 6 }, () => rawRequest(port, ''));
      const closed = await Promise.race([
        Promise.all(sockets.slice(3).map((s) => s.answer)),
        new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 2000)),
      ]);
      expect(closed).not.toBe('timeout');
      for (const { socket } of sockets) socket.destroy();
    } finally {
      await close(server);
    }
  });
});
