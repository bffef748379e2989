import { ForbiddenError } from '../errors';
import type { ServeRequest, ServeResponse } from './request';

/**
 * Cross-origin access for browser clients, decided once in the core so every platform answers the
 * same (configure the platform's own CORS off). Off unless CORS_ORIGINS lists origins.
 */

const EXPOSED = 'x-request-id, x-model-name, x-model-version, x-model-variant';
const ALLOWED_METHODS = 'GET, POST, OPTIONS';
const DEFAULT_HEADERS = 'authorization, content-type, x-api-key, x-request-id';
const HEADER_LIST = /^[A-Za-z0-9-]+(\s*,\s*[A-Za-z0-9-]+)*$/;

function allowedOrigin(origins: readonly string[], origin: string | undefined): string | undefined {
  if (origin === undefined || origins.length === 0) return undefined;
  if (origins.includes(origin)) return origin;
  return origins.includes('*') ? '*' : undefined;
}

/** Headers every response to an allowed origin carries, so the browser lets the page read it. */
export function corsHeaders(origins: readonly string[], request: ServeRequest): Record<string, string> {
  const allowed = allowedOrigin(origins, request.headers['origin']);
  if (allowed === undefined) return {};
  return {
    'access-control-allow-origin': allowed,
    'access-control-expose-headers': EXPOSED,
    ...(allowed === '*' ? {} : { vary: 'Origin' }),
  };
}

/**
 * The answer to a CORS preflight, or undefined when the request is not one (or CORS is off, in
 * which case OPTIONS is just a method no route allows). An origin that is not listed gets a 403
 * naming it rather than a silent browser failure.
 */
export function preflightResponse(
  origins: readonly string[],
  request: ServeRequest,
): ServeResponse | undefined {
  const origin = request.headers['origin'];
  const isPreflight =
    request.method.toUpperCase() === 'OPTIONS' &&
    origin !== undefined &&
    request.headers['access-control-request-method'] !== undefined;
  if (!isPreflight || origins.length === 0) return undefined;
  if (allowedOrigin(origins, origin) === undefined)
    throw new ForbiddenError(`origin ${JSON.stringify(origin)} is not allowed: it is not in CORS_ORIGINS`);
  const requested = request.headers['access-control-request-headers']?.trim();
  return {
    status: 204,
    headers: {
      'access-control-allow-methods': ALLOWED_METHODS,
      // Listing a header grants nothing server-side; echoing the request keeps clients free to add theirs.
      'access-control-allow-headers':
        requested !== undefined && HEADER_LIST.test(requested) ? requested : DEFAULT_HEADERS,
      'access-control-max-age': '600',
    },
    body: '',
  };
}

/** CORS_ORIGINS: comma-separated origins (`https://app.example.com`) or `*`; returns an error text or the list. */
export function parseCorsOrigins(raw: string): string[] | string {
  const origins = raw
    .split(',')
    .map((value) => value.trim())
    .filter((value) => value !== '');
  for (const origin of origins) {
    if (origin === '*') continue;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return `${JSON.stringify(origin)} is not an origin like https://app.example.com`;
    }
    if (!/^https?:$/.test(url.protocol) || url.origin !== origin)
      return `${JSON.stringify(origin)} is not an origin like https://app.example.com (scheme, host and port only)`;
  }
  return origins;
}
