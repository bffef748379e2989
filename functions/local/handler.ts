import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from 'node:http';
import type { App } from '../../shared/app';
import { BadRequestError, PayloadTooLargeError } from '../../shared/errors';
import { fallbackResponse, rejectOrFallback } from '../../shared/http/finish';
import { lowerCaseHeaders, type ServeRequest, type ServeResponse } from '../../shared/http/request';

export interface LocalServerLimits {
  /** Until the headers are in (Node: 60 s). */
  headersTimeoutMs: number;
  /** Until the whole request is in, body included (Node: 300 s, which let a stalled upload hold a connection 5 min). */
  requestTimeoutMs: number;
  /** A socket with no traffic for this long is closed, mid-request or between requests. */
  idleTimeoutMs: number;
  /** Connections beyond this are closed at once. */
  maxConnections: number;
}

export const LOCAL_SERVER_LIMITS: LocalServerLimits = {
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 65_000,
  maxConnections: 1024,
};

/** The local HTTP adapter: node:http request → ServeRequest → core → node:http response. */
export function createLocalServer(app: App, limits: Partial<LocalServerLimits> = {}): Server {
  const { headersTimeoutMs, requestTimeoutMs, idleTimeoutMs, maxConnections } = {
    ...LOCAL_SERVER_LIMITS,
    ...limits,
  };
  const server = createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      // Node checks those two timeouts on this interval (30 s by default): too coarse for them.
      connectionsCheckingInterval: Math.max(100, Math.min(headersTimeoutMs, requestTimeoutMs) / 4),
    },
    (req, res) => {
      void serve(app, req, res);
    },
  );
  // Keep-alive connections outliving the default 5 s confuse some load generators; match common proxies.
  server.keepAliveTimeout = idleTimeoutMs;
  server.timeout = idleTimeoutMs;
  server.maxConnections = maxConnections;
  // Requests Node's parser refuses never reach the core: answer them in the same JSON error shape.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const message = `malformed HTTP request (${err.code ?? 'parse error'})`;
    const { headers, body } = fallbackResponse(new BadRequestError(message), false);
    const head = Object.entries({ ...headers, 'content-length': String(Buffer.byteLength(String(body))) })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}connection: close\r\n\r\n${body}`);
  });
  return server;
}

async function serve(app: App, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let response: ServeResponse;
  try {
    response = await app.handle(await admitAndRead(app, req, res));
  } catch (err) {
    // Reading the request failed (body over the limit, bad target): the core still answers it
    // with a request id, its headers and a metric event.
    response = rejectOrFallback((e) => app.reject(withoutBody(req), e), err, app.config.exposeInternals);
  }
  res.writeHead(response.status, response.headers);
  res.end(response.body);
}

/**
 * Route, method, credentials, rate limits and the declared length are checked from the headers
 * before a byte of the body is read: a refused request never holds its body in memory, and the
 * connection is closed rather than left for the client to fill.
 */
async function admitAndRead(app: App, req: IncomingMessage, res: ServerResponse): Promise<ServeRequest> {
  const target = parseTarget(req.url ?? '/');
  if (target === undefined) throw refuse(res, new BadRequestError('the request target is not a valid URL'));
  const request = withoutBody(req, target);
  const declared = Number(req.headers['content-length']);
  const limit = app.config.maxBodyBytes;
  try {
    await app.admit(request);
    if (declared > limit) {
      throw new PayloadTooLargeError(`request body is more than the limit of ${limit} bytes`);
    }
  } catch (err) {
    throw refuse(res, err);
  }
  const body = await readBody(req, limit);
  if (body !== undefined) request.body = body;
  return request;
}

/** The refusal, sent with `connection: close`: the unread body is not waited for. */
function refuse(res: ServerResponse, err: unknown): unknown {
  res.shouldKeepAlive = false;
  return err;
}

/** What is known of a request before its body is read. */
function withoutBody(req: IncomingMessage, target?: Target): ServeRequest {
  const { path, query } = target ?? parseTarget(req.url ?? '/') ?? { path: '/', query: {} };
  return {
    method: req.method ?? 'GET',
    path,
    query,
    headers: lowerCaseHeaders(req.headers),
    sourceIp: req.socket.remoteAddress,
  };
}

interface Target {
  path: string;
  query: Record<string, string>;
}

// Non-empty segments of characters URL leaves as they are, none of them "." or "..": such a target
// is its own pathname with no query, so the common case skips URL parsing (≈ 3 µs per request).
const PLAIN_PATH = /^(?:(?:\/(?!\.\.?(?:\/|$))[\w.~:@!$&+,;=-]+)+\/?|\/)$/;

/** Path and query of a request target as URL parses them; undefined when it is not a valid URL. */
export function parseTarget(target: string): Target | undefined {
  if (PLAIN_PATH.test(target)) return { path: target, query: {} };
  try {
    const url = new URL(target, 'http://localhost');
    return { path: url.pathname, query: Object.fromEntries(url.searchParams) };
  } catch {
    return undefined;
  }
}

function readBody(req: IncomingMessage, maxBodyBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) {
        chunks.push(chunk);
        return;
      }
      // Answer 413 at once but keep reading (and dropping) the rest: closing a socket with unread
      // bytes sends a TCP reset, and the client would never see the answer. Past 8x, stop paying.
      if (size - chunk.length <= maxBodyBytes) {
        chunks.length = 0;
        reject(new PayloadTooLargeError(`request body is more than the limit of ${maxBodyBytes} bytes`));
      }
      if (size > maxBodyBytes * 8) req.destroy();
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > maxBodyBytes) return;
      resolve(chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
  });
}
