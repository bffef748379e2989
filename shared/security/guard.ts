import { BadRequestError, ForbiddenError, UnauthorizedError } from '../errors';
import type { ServeRequest } from '../http/request';
import { matchApiKey, SCOPES, type Scope } from './api-keys';
import type { JwtVerifier } from './jwt';
import { TokenBucketLimiter } from './rate-limit';
import type { SecurityConfig } from './settings';

export interface Principal {
  kind: 'api-key' | 'jwt' | 'platform' | 'anonymous';
  /** Key name, `jwt:<sub>` or `anonymous`: what logs, metrics and the per-key limiter see. */
  id: string;
  scopes: ReadonlySet<Scope>;
}

export type RouteAccess = Scope | 'public';

/**
 * Which scope a route needs. Health and server metadata are public (probes carry no
 * credentials). Anything pinned to a version is `admin`: pinned routes bypass the stage's
 * deployment, so they are for operators and smoke tests, not clients. Unknown routes default to
 * `admin` so that a route added without a decision here is closed, not open.
 */
export function requiredScope(route: string, params: { version?: string | undefined }): RouteAccess {
  if (PUBLIC_ROUTES.has(route)) return 'public';
  if (params.version !== undefined) return 'admin';
  if (PREDICT_ROUTES.has(route)) return 'predict';
  if (route === 'feedback') return 'feedback';
  return 'admin';
}

const PUBLIC_ROUTES = new Set(['server_metadata', 'live', 'ready']);
const PREDICT_ROUTES = new Set([
  'infer',
  'model_ready',
  'model_metadata',
  'mlflow_invocations',
  'invocations',
  'tfserving_predict',
  'predict',
]);

const MAX_CREDENTIAL_LENGTH = 8192;
const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);
const ANONYMOUS: Principal = { kind: 'anonymous', id: 'anonymous', scopes: ALL_SCOPES };

export interface Guard {
  /** Rate limits, authenticates and authorizes a request for a route; throws 401/403/429. */
  check(
    request: ServeRequest,
    route: string,
    params: { version?: string | undefined },
  ): Principal | undefined | Promise<Principal | undefined>;
}

export function createGuard(config: SecurityConfig, now: () => number = Date.now): Guard {
  const perClient = new TokenBucketLimiter(config.rateLimitPerClient, now);
  const perKey = new TokenBucketLimiter(config.rateLimitPerKey, now);
  // jose adds ≈ 40 ms to every cold start (docs/benchmarks.md): only stages that accept JWTs load it.
  const verifyJwt: JwtVerifier | undefined =
    config.jwt === undefined
      ? undefined
      : (require('./jwt') as typeof import('./jwt')).createJwtVerifier(config.jwt);
  const authorize = (principal: Principal, route: string, access: Scope, params: RouteParams): Principal => {
    requireScope(principal, route, access, params);
    perKey.take(principal.id, principal.kind === 'anonymous' ? 'anonymous callers' : `"${principal.id}"`);
    return principal;
  };
  return {
    check(request, route, params) {
      const access = requiredScope(route, params);
      if (access === 'public') return undefined;
      // Before authentication, so that guessing keys or tokens is throttled too.
      if (request.sourceIp !== undefined) perClient.take(request.sourceIp, `client ${request.sourceIp}`);
      const principal = config.authRequired ? authenticate(request, config, verifyJwt) : ANONYMOUS;
      return principal instanceof Promise
        ? principal.then((p) => authorize(p, route, access, params))
        : authorize(principal, route, access, params);
    },
  };
}

type RouteParams = { version?: string | undefined };

/** Who is calling. Synchronous unless a JWT has to be verified, so API-key requests cost no await. */
function authenticate(
  request: ServeRequest,
  config: SecurityConfig,
  verifyJwt: JwtVerifier | undefined,
): Principal | Promise<Principal> {
  if (request.platformCaller !== undefined && config.platformCallerScopes.length > 0) {
    return {
      kind: 'platform',
      id: `iam:${request.platformCaller}`,
      scopes: new Set(config.platformCallerScopes),
    };
  }
  const { credential, bearer } = credentialOf(request, verifyJwt !== undefined);
  if (bearer && credential.split('.').length === 3) {
    if (verifyJwt === undefined)
      throw new UnauthorizedError('bearer tokens (JWT) are not accepted on this stage');
    return verifyJwt(credential).then(
      (identity): Principal => ({
        kind: 'jwt',
        id: `jwt:${identity.subject}`,
        scopes: new Set(identity.scopes),
      }),
    );
  }
  const entry = matchApiKey(config.apiKeys, credential);
  if (entry === undefined) throw new UnauthorizedError('API key is not valid');
  if (entry.revoked) throw new UnauthorizedError(`API key "${entry.name}" has been revoked`);
  return { kind: 'api-key', id: entry.name, scopes: new Set(entry.scopes) };
}

/** The one credential a request carries: an x-api-key header, or an Authorization header. */
function credentialOf(request: ServeRequest, jwtAccepted: boolean): { credential: string; bearer: boolean } {
  const apiKeyHeader = request.headers['x-api-key'];
  const authorization = request.headers['authorization'];
  if (apiKeyHeader !== undefined && authorization !== undefined) {
    throw new BadRequestError('send either an x-api-key header or an Authorization header, not both');
  }
  if (apiKeyHeader === undefined && authorization === undefined) {
    throw new UnauthorizedError(
      `authentication required: send an API key in x-api-key${jwtAccepted ? ' or a bearer token in Authorization' : ''}`,
    );
  }
  let credential: string;
  let bearer = false;
  if (apiKeyHeader !== undefined) {
    credential = apiKeyHeader.trim();
  } else {
    const match = /^(Bearer|ApiKey)\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (match === null) {
      throw new UnauthorizedError('Authorization header: expected "Bearer <token>" or "ApiKey <key>"');
    }
    bearer = match[1]?.toLowerCase() === 'bearer';
    credential = match[2] ?? '';
  }
  if (credential === '' || credential.length > MAX_CREDENTIAL_LENGTH) {
    throw new UnauthorizedError('credential is empty or too long');
  }
  return { credential, bearer };
}

function requireScope(principal: Principal, route: string, access: Scope, params: RouteParams): void {
  if (principal.scopes.has(access)) return;
  const who =
    principal.kind === 'api-key'
      ? `API key "${principal.id}"`
      : principal.kind === 'jwt'
        ? `bearer token of ${principal.id.slice(4)}`
        : `caller ${principal.id}`;
  throw new ForbiddenError(
    `${who} lacks the "${access}" scope needed for ${describeRoute(route, params)}; it has ${[...principal.scopes].join(', ') || 'no scopes'}`,
  );
}

function describeRoute(route: string, params: { version?: string | undefined }): string {
  return params.version === undefined ? `route ${route}` : `route ${route} on a pinned version`;
}
