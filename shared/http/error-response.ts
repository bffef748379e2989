import { HttpError } from '../errors';
import type { ServeResponse } from './request';

export interface ErrorResponseOptions {
  /** Include the error chain and stack; only ever true on the `local` stage. */
  exposeInternals: boolean;
  requestId?: string;
}

/** The single mapping from any thrown value to the response a client sees. */
export function toErrorResponse(err: unknown, options: ErrorResponseOptions): ServeResponse {
  const status = err instanceof HttpError ? err.status : 500;
  const body: Record<string, unknown> = {
    error: err instanceof HttpError ? err.message : 'internal error',
  };
  if (options.requestId !== undefined) body['id'] = options.requestId;
  if (options.exposeInternals && err instanceof Error) {
    body['detail'] = {
      name: err.name,
      message: err.message,
      stack: err.stack,
      cause: describeCause(err.cause),
    };
  }
  return {
    status,
    headers: {
      'content-type': 'application/json',
      ...(err instanceof HttpError ? err.headers : {}),
      ...(options.requestId === undefined ? {} : { 'x-request-id': options.requestId }),
    },
    body: JSON.stringify(body),
  };
}

function describeCause(cause: unknown): unknown {
  if (cause === undefined) return undefined;
  if (cause instanceof Error)
    return { name: cause.name, message: cause.message, cause: describeCause(cause.cause) };
  return String(cause);
}
