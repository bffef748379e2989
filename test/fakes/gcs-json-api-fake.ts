import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A FAKE of the Google Cloud Storage JSON API — only the calls @google-cloud/storage makes for
 * GcsModelStore: object metadata, media download, list with prefix/delimiter, multipart and
 * resumable (chunked) uploads, with generations and `ifGenerationMatch` (412 when it fails).
 * There is no GCS emulator that installs offline; this fake is not a substitute for GCS itself.
 */
export interface FakeGcs {
  endpoint: string;
  /** Every request seen: method, path and query, in order. */
  requests: { method: string; path: string; query: URLSearchParams }[];
  objects: Map<string, StoredObject>;
  /** Called before each request is answered; tests use it to interleave a concurrent change. */
  beforeRequest?: (request: { method: string; path: string; query: URLSearchParams }) => void;
  close(): Promise<void>;
}

interface StoredObject {
  body: Buffer;
  generation: number;
  contentType: string;
  updated: string;
}

interface PendingUpload {
  bucket: string;
  name: string;
  contentType: string;
  ifGenerationMatch: string | null;
  chunks: Buffer[];
  received: number;
}

export async function startFakeGcs(): Promise<FakeGcs> {
  const objects = new Map<string, StoredObject>();
  const uploads = new Map<string, PendingUpload>();
  const requests: FakeGcs['requests'] = [];
  const fake: FakeGcs = { endpoint: '', requests, objects, close: async () => {} };
  let nextGeneration = Date.now() * 1000;

  const metadataOf = (bucket: string, name: string, object: StoredObject) => ({
    kind: 'storage#object',
    id: `${bucket}/${name}/${object.generation}`,
    name,
    bucket,
    generation: String(object.generation),
    metageneration: '1',
    contentType: object.contentType,
    size: String(object.body.length),
    etag: `"${object.generation}"`,
    updated: object.updated,
  });

  const commit = (
    bucket: string,
    name: string,
    body: Buffer,
    contentType: string,
    ifGenerationMatch: string | null,
  ) => {
    const key = `${bucket}/${name}`;
    const current = objects.get(key);
    if (ifGenerationMatch !== null && String(current?.generation ?? 0) !== ifGenerationMatch) {
      return {
        status: 412,
        json: {
          error: { code: 412, message: 'At least one of the pre-conditions you specified did not hold.' },
        },
      };
    }
    nextGeneration += 1;
    const object = { body, generation: nextGeneration, contentType, updated: new Date().toISOString() };
    objects.set(key, object);
    return { status: 200, json: metadataOf(bucket, name, object) };
  };

  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const query = url.searchParams;
    const seen = { method: req.method ?? 'GET', path: url.pathname, query };
    requests.push(seen);
    fake.beforeRequest?.(seen);
    const send = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        ...(json === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      });
      res.end(json === undefined ? undefined : JSON.stringify(json));
    };
    const notFound = () => send(404, { error: { code: 404, message: 'No such object' } });

    const objectPath = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    const listPath = /^\/storage\/v1\/b\/([^/]+)\/o\/?$/.exec(url.pathname);
    const uploadPath = /^\/upload\/storage\/v1\/b\/([^/]+)\/o\/?$/.exec(url.pathname);

    if (req.method === 'GET' && objectPath) {
      const bucket = decodeURIComponent(objectPath[1] ?? '');
      const name = decodeURIComponent(objectPath[2] ?? '');
      const object = objects.get(`${bucket}/${name}`);
      const generation = query.get('generation');
      if (object === undefined || (generation !== null && generation !== String(object.generation)))
        return notFound();
      if (query.get('ifGenerationNotMatch') === String(object.generation)) return send(304);
      if (query.get('alt') === 'media') {
        // A byte range (Range: bytes=a-b), as the media endpoint serves one for ranged reads.
        const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers['range'] ?? ''));
        if (range !== null) {
          const first = Number(range[1]);
          const last =
            range[2] === '' ? object.body.length - 1 : Math.min(Number(range[2]), object.body.length - 1);
          res.writeHead(206, {
            'content-type': object.contentType,
            'content-range': `bytes ${first}-${last}/${object.body.length}`,
            'x-goog-generation': String(object.generation),
          });
          return res.end(object.body.subarray(first, last + 1));
        }
        res.writeHead(200, {
          'content-type': object.contentType,
          'content-length': String(object.body.length),
          'x-goog-generation': String(object.generation),
        });
        return res.end(object.body);
      }
      return send(200, metadataOf(bucket, name, object));
    }

    if (req.method === 'GET' && listPath) {
      const bucket = decodeURIComponent(listPath[1] ?? '');
      const prefix = query.get('prefix') ?? '';
      const delimiter = query.get('delimiter') ?? '';
      const items: unknown[] = [];
      const prefixes = new Set<string>();
      for (const [key, object] of [...objects.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        if (!key.startsWith(`${bucket}/`)) continue;
        const name = key.slice(bucket.length + 1);
        if (!name.startsWith(prefix)) continue;
        const rest = name.slice(prefix.length);
        const cut = delimiter === '' ? -1 : rest.indexOf(delimiter);
        if (cut >= 0) prefixes.add(prefix + rest.slice(0, cut + delimiter.length));
        else items.push(metadataOf(bucket, name, object));
      }
      return send(200, { kind: 'storage#objects', items, prefixes: [...prefixes] });
    }

    if (req.method === 'POST' && uploadPath) {
      const bucket = decodeURIComponent(uploadPath[1] ?? '');
      const uploadType = query.get('uploadType');
      if (uploadType === 'multipart') {
        const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
        if (boundary === undefined) return send(400, { error: { code: 400, message: 'no boundary' } });
        const parts = splitMultipart(body, boundary);
        const meta = JSON.parse(parts[0]?.body.toString('utf8') ?? '{}') as {
          name?: string;
          contentType?: string;
        };
        const media = parts[1];
        const name = meta.name ?? query.get('name');
        if (name === null || name === undefined || media === undefined) {
          return send(400, { error: { code: 400, message: 'name and media are required' } });
        }
        const contentType = meta.contentType ?? media.headers['content-type'] ?? 'application/octet-stream';
        const result = commit(bucket, name, media.body, contentType, query.get('ifGenerationMatch'));
        return send(result.status, result.json);
      }
      if (uploadType === 'resumable') {
        const meta =
          body.length > 0
            ? (JSON.parse(body.toString('utf8')) as { name?: string; contentType?: string })
            : {};
        const name = query.get('name') ?? meta.name;
        if (name === null || name === undefined)
          return send(400, { error: { code: 400, message: 'name is required' } });
        const id = randomUUID();
        uploads.set(id, {
          bucket,
          name,
          contentType:
            meta.contentType ?? String(req.headers['x-upload-content-type'] ?? 'application/octet-stream'),
          ifGenerationMatch: query.get('ifGenerationMatch'),
          chunks: [],
          received: 0,
        });
        const address = server.address() as AddressInfo;
        return send(200, undefined, {
          location: `http://127.0.0.1:${address.port}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`,
        });
      }
      return send(400, { error: { code: 400, message: `unsupported uploadType ${uploadType}` } });
    }

    if (req.method === 'PUT' && uploadPath) {
      const upload = uploads.get(query.get('upload_id') ?? '');
      if (upload === undefined) return send(404, { error: { code: 404, message: 'no such upload' } });
      // Content-Range: "bytes a-b/total", "bytes a-b/*" (more to come) or "bytes */total" (status).
      const range = /^bytes (\*|(\d+)-(\d+))\/(\*|\d+)$/.exec(String(req.headers['content-range'] ?? ''));
      if (range !== null && range[1] !== '*') {
        const start = Number(range[2]);
        if (start !== upload.received) {
          return send(308, undefined, upload.received > 0 ? { range: `bytes=0-${upload.received - 1}` } : {});
        }
        upload.chunks.push(body);
        upload.received += body.length;
      } else if (range === null && body.length > 0) {
        upload.chunks.push(body);
        upload.received += body.length;
      }
      const total = range?.[4];
      if (total !== undefined && total !== '*' && upload.received >= Number(total)) {
        uploads.delete(query.get('upload_id') ?? '');
        const result = commit(
          upload.bucket,
          upload.name,
          Buffer.concat(upload.chunks),
          upload.contentType,
          upload.ifGenerationMatch,
        );
        return send(result.status, result.json);
      }
      if (range === null) {
        uploads.delete(query.get('upload_id') ?? '');
        const result = commit(
          upload.bucket,
          upload.name,
          Buffer.concat(upload.chunks),
          upload.contentType,
          upload.ifGenerationMatch,
        );
        return send(result.status, result.json);
      }
      return send(308, undefined, upload.received > 0 ? { range: `bytes=0-${upload.received - 1}` } : {});
    }

    send(501, {
      error: { code: 501, message: `the GCS fake does not implement ${req.method} ${url.pathname}` },
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(fake, {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return fake;
}

function splitMultipart(body: Buffer, boundary: string): { headers: Record<string, string>; body: Buffer }[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const part = body.subarray(start + delimiter.length, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers: Record<string, string> = {};
      for (const line of part.subarray(0, headerEnd).toString('utf8').split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      // The part body ends with the CRLF that precedes the next delimiter.
      let content = part.subarray(headerEnd + 4);
      if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
      parts.push({ headers, body: content });
    }
    start = next;
  }
  return parts;
}
