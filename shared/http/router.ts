import { BadRequestError, MethodNotAllowedError, NotFoundError } from '../errors';
import type { ServeRequest, ServeResponse } from './request';

/** Path parameters a route captures: the model, then the version when the path has one. */
export type Params = { model?: string; version?: string };

export interface Route<Context> {
  /** The metric event's `route` dimension and the name the auth scopes are written against. */
  name: string;
  method: string;
  pattern: RegExp;
  /** Model and version for routes that name them outside the path (MLflow: query or headers). */
  params?: (request: ServeRequest) => Params;
  /** A promise only when the route waits for something (a sync answer costs no promise). */
  run: (ctx: Context, params: Params) => ServeResponse | Promise<ServeResponse>;
}

const SEGMENT = '([^/]+)';

/** A route pattern from a template such as `/v2/models/{model}/versions/{version}/infer`. */
export function routePattern(template: string): RegExp {
  const source = template.replace('{model}', SEGMENT).replace('{version}', SEGMENT);
  return new RegExp(`^${source}$`);
}

/** The first route matching method and path; 405 naming the allowed methods, or 404. */
export function matchRoute<Context>(
  routes: readonly Route<Context>[],
  method: string,
  path: string,
): { route: Route<Context>; params: Params } {
  const allowed: string[] = [];
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path);
    if (match === null) continue;
    if (candidate.method !== method) {
      allowed.push(candidate.method);
      continue;
    }
    const params: Params = {};
    const model = match[1];
    if (model !== undefined) params.model = decodeSegment(model);
    const version = match[2];
    if (version !== undefined) params.version = decodeSegment(version);
    return { route: candidate, params };
  }
  if (allowed.length > 0) throw new MethodNotAllowedError(`${method} is not allowed on ${path}`, allowed);
  throw new NotFoundError(`no route for ${method} ${path}`);
}

/** The name of the route a request would take, or `unknown` (404/405), without throwing. */
export function routeNameOf<Context>(routes: readonly Route<Context>[], request: ServeRequest): string {
  try {
    return matchRoute(routes, request.method.toUpperCase(), request.path).route.name;
  } catch {
    return 'unknown';
  }
}

function decodeSegment(value: string): string {
  // Without a "%" there is nothing to decode (and nothing to fail on).
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    throw new BadRequestError(`path segment ${JSON.stringify(value)} is not valid percent-encoding`);
  }
}
