/**
 * The one error tree of modelfleet. Every failure a client can cause or observe is an HttpError;
 * anything else reaching `toErrorResponse` (http/error-response.ts) is a bug and becomes an opaque 500.
 */
export abstract class HttpError extends Error {
  abstract readonly status: number;
  /** Stable, low-cardinality class used as a metric dimension (never the message). */
  abstract readonly errorClass: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(message: string, options: { cause?: unknown; headers?: Record<string, string> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.headers = options.headers ?? {};
  }
}

export class BadRequestError extends HttpError {
  readonly status = 400;
  readonly errorClass = 'invalid_input';
}

export class UnauthorizedError extends HttpError {
  readonly status = 401;
  readonly errorClass = 'unauthorized';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, headers: { 'www-authenticate': 'Bearer, ApiKey' } });
  }
}

export class ForbiddenError extends HttpError {
  readonly status = 403;
  readonly errorClass = 'forbidden';
}

export class NotFoundError extends HttpError {
  readonly status = 404;
  readonly errorClass = 'not_found';
}

export class MethodNotAllowedError extends HttpError {
  readonly status = 405;
  readonly errorClass = 'method_not_allowed';
  constructor(message: string, allowed: readonly string[]) {
    super(message, { headers: { allow: allowed.join(', ') } });
  }
}

/** A compare-and-swap write lost to a concurrent writer. */
export class ConflictError extends HttpError {
  readonly status = 409;
  readonly errorClass = 'conflict';
}

export class PayloadTooLargeError extends HttpError {
  readonly status = 413;
  readonly errorClass = 'payload_too_large';
}

export class UnsupportedMediaTypeError extends HttpError {
  readonly status = 415;
  readonly errorClass = 'unsupported_media_type';
}

export class TooManyRequestsError extends HttpError {
  readonly status = 429;
  readonly errorClass = 'rate_limited';
  constructor(message: string, retryAfterSeconds: number) {
    super(message, { headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
  }
}

/** The request was fine but the model cannot answer now (not loaded, integrity failure, store down). */
export class ServiceUnavailableError extends HttpError {
  readonly status = 503;
  readonly errorClass: string = 'unavailable';
  constructor(message: string, options: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message, {
      cause: options.cause,
      headers:
        options.retryAfterSeconds === undefined ? {} : { 'retry-after': String(options.retryAfterSeconds) },
    });
  }
}

/** A model version whose artifact does not match its manifest's sha256 (or signature). */
export class IntegrityError extends ServiceUnavailableError {
  override readonly errorClass = 'integrity';
}

/** A bad setting found at cold start; names the variable so the operator can fix it. */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

export function errorClassOf(err: unknown): string {
  return err instanceof HttpError ? err.errorClass : 'internal';
}
