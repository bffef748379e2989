import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
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

export function installRawBodyMode(exposeInternals: boolean, reject?: RejectEarly): void {
  rejectEarly = reject;
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
    const done = (err?: unknown) => {
      const error = err === undefined ? new NotFoundError(`no route for ${req.method} ${req.url}`) : err;
      const failure = fromBodyParser(error);
      const response = rejectOrFallback((e) => rejectEarly?.(req, e), failure, exposeInternals);
      res.writeHead(response.status, response.headers).end(response.body);
    };
    handle.call(this, req, res, callback ?? done);
  };
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
