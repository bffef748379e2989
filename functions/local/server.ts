import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { App } from '../../shared/app';
import { PayloadTooLargeError, toErrorResponse } from '../../shared/errors';
import { lowerCaseHeaders, type ServeRequest, type ServeResponse } from '../../shared/http';
import { withSecurityHeaders } from '../../shared/security/headers';

/** The local HTTP adapter: node:http request → ServeRequest → core → node:http response. */
export function createLocalServer(app: App): Server {
  const server = createServer((req, res) => {
    void serve(app, req, res);
  });
  // Keep-alive connections outliving the default 5 s confuse some load generators; match common proxies.
  server.keepAliveTimeout = 65_000;
  return server;
}

async function serve(app: App, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let response: ServeResponse;
  try {
    response = await app.handle(await fromIncomingMessage(req, app.config.maxBodyBytes));
  } catch (err) {
    response = withSecurityHeaders(toErrorResponse(err, { exposeInternals: app.config.exposeInternals }));
  }
  res.writeHead(response.status, response.headers);
  res.end(response.body);
}

export async function fromIncomingMessage(req: IncomingMessage, maxBodyBytes: number): Promise<ServeRequest> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // Stop buffering early; the core reports the limit with the same 413 as every other adapter.
    if (size > maxBodyBytes) {
      req.resume();
      throw new PayloadTooLargeError(`request body is more than the limit of ${maxBodyBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: lowerCaseHeaders(req.headers),
    body: chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
    sourceIp: req.socket.remoteAddress,
  };
}
