import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { createGunzip, createInflate } from 'node:zlib';
import {
  BadRequestError,
  type HttpError,
  NotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
} from '../../shared/errors';
import { rejectOrFallback } from '../../shared/http/finish';
import type { ServeResponse } from '../../shared/http/request';

/**
 * functions-framework parses bodies with body-parser before the function runs and answers parse
 * failures itself, with express's HTML error page (a stack trace outside production): invalid JSON
 * sent as application/json never reaches the core, and a valid JSON body sent with curl's default
 * form content type can fail qs's parameter limit with a 413. The framework has no hook for this
 * (GoogleCloudPlatform/functions-framework-nodejs#686), so before it builds its express app we make
 * every body look like application/octet-stream — only its raw parser runs and keeps `rawBody` —
 * remember the real content type for the adapter, and answer what still fails there (a body that is
 * not valid gzip, an unknown content-encoding) with the core's JSON error — through the app's
 * `reject` once it is ready (request id, CORS and security headers, a metric event).
 */
const contentTypes = new WeakMap<IncomingMessage, string | undefined>();

export function originalContentType(req: IncomingMessage): string | undefined {
  return contentTypes.has(req) ? contentTypes.get(req) : req.headers['content-type'];
}

type Handle = (req: IncomingMessage, res: ServerResponse, callback?: (err?: unknown) => void) => void;

/** Answers a request the framework failed before the function ran; undefined: not ready yet. */
export type RejectEarly = (req: IncomingMessage, err: unknown) => ServeResponse | undefined;

let installed = false;
let rejectEarly: RejectEarly | undefined;
let bodyLimit = 6 * 1024 * 1024;

/**
 * `maxBodyBytes` caps the body as read and, for gzip/deflate, as inflated: the framework's own
 * parser inflates up to 1 GB before the function runs (64 KB of gzip cost +123 MB of RSS to an
 * unauthenticated request), so the body is read here instead, and the parsers skip it.
 */
export function installRawBodyMode(
  exposeInternals: boolean,
  reject?: RejectEarly,
  maxBodyBytes?: number,
): void {
  rejectEarly = reject;
  if (maxBodyBytes !== undefined) bodyLimit = maxBodyBytes;
  if (installed) return;
  installed = true;
  // The framework's own express, however node_modules is laid out.
  const framework = path.dirname(require.resolve('@google-cloud/functions-framework'));
  const express = require(require.resolve('express', { paths: [framework] })) as {
    application: { handle: Handle };
  };
  const handle = express.application.handle;
  express.application.handle = function (this: unknown, req, res, callback) {
    if (!contentTypes.has(req)) {
      contentTypes.set(req, req.headers['content-type']);
      req.headers['content-type'] = 'application/octet-stream';
    }
    const answer = (failure: unknown) => {
      const response = rejectOrFallback((e) => rejectEarly?.(req, e), failure, exposeInternals);
      res.writeHead(response.status, response.headers).end(response.body);
    };
    const done = (err?: unknown) =>
      answer(
        fromBodyParser(err === undefined ? new NotFoundError(`no route for ${req.method} ${req.url}`) : err),
      );
    const withBody = req as IncomingMessage & { rawBody?: Buffer; body?: unknown; _body?: boolean };
    readCappedBody(req, bodyLimit).then(
      (body) => {
        // body-parser skips a request whose `_body` is set: the framework's parsers never run.
        withBody.rawBody = body;
        withBody.body = body;
        withBody._body = true;
        handle.call(this, req, res, callback ?? done);
      },
      (failure: unknown) => {
        // The rest of the body is not read: the connection closes after the answer.
        res.setHeader('connection', 'close');
        answer(failure);
      },
    );
  };
}

/**
 * Reads and drops the rest of a refused body, still compressed, so the client sees the answer
 * (closing with unread bytes sends a TCP reset); past 8x the limit the connection is cut.
 */
function drain(req: IncomingMessage, maxBytes: number): void {
  let dropped = 0;
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.byteLength;
    if (dropped > maxBytes * 8) req.destroy();
  });
  req.resume();
}

const ENCODINGS = new Set(['identity', 'gzip', 'x-gzip', 'deflate']);

/** The body, inflated if it is gzip or deflate, refused as soon as it passes `maxBytes`. */
function readCappedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (!ENCODINGS.has(encoding)) {
      drain(req, maxBytes);
      reject(
        new UnsupportedMediaTypeError(
          `content-encoding ${encoding.slice(0, 40)} is not supported; send the body as identity, gzip or deflate`,
        ),
      );
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      drain(req, maxBytes);
      reject(
        new PayloadTooLargeError(`request body is ${declared} bytes, more than the limit of ${maxBytes}`),
      );
      return;
    }
    const inflate =
      encoding === 'identity' ? undefined : encoding === 'deflate' ? createInflate() : createGunzip();
    const source = inflate === undefined ? req : req.pipe(inflate);
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      if (inflate !== undefined) {
        req.unpipe(inflate);
        inflate.destroy();
      }
      chunks.length = 0;
      drain(req, maxBytes);
      reject(err);
    };
    source.on('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        fail(
          new PayloadTooLargeError(
            `request body ${inflate === undefined ? 'is' : 'inflates to'} more than the limit of ${maxBytes} bytes`,
          ),
        );
        return;
      }
      chunks.push(chunk);
    });
    source.on('error', (err: Error) =>
      fail(new BadRequestError(`request body could not be read: ${err.message}`, { cause: err })),
    );
    if (inflate !== undefined) req.on('error', (err) => fail(err));
    source.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, total));
    });
  });
}

function fromBodyParser(err: unknown): HttpError | unknown {
  const status = (err as { status?: unknown }).status;
  const message = err instanceof Error ? err.message : String(err);
  if (status === 413) return new PayloadTooLargeError(`request body: ${message}`, { cause: err });
  if (status === 415) return new UnsupportedMediaTypeError(`request body: ${message}`, { cause: err });
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new BadRequestError(`request body could not be read: ${message}`, { cause: err });
  return err;
}
