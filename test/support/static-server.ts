import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

export interface StaticServer {
  origin: string;
  /** Paths requested so far, with the status answered. */
  requests: { path: string; status: number }[];
  close(): Promise<void>;
}

/**
 * A plain static file server on 127.0.0.1 (any CDN or static host would do), with a content ETag
 * and 304 on If-None-Match, as the edge's offline cache expects of one.
 */
export async function serveFolder(root: string): Promise<StaticServer> {
  const requests: StaticServer['requests'] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const file = path.join(root, decodeURIComponent(url.pathname));
    const answer = (status: number, headers: Record<string, string> = {}, body?: Uint8Array) => {
      requests.push({ path: url.pathname, status });
      res.writeHead(status, headers);
      res.end(body);
    };
    if (!file.startsWith(root + path.sep)) return answer(403);
    readFile(file).then(
      (body) => {
        const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
        if (req.headers['if-none-match'] === etag) return answer(304, { etag });
        const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
        answer(200, { 'content-type': type, etag, 'cache-control': 'no-cache' }, body);
      },
      () => answer(404),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
