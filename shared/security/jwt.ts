import { createPublicKey } from 'node:crypto';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import { ServiceUnavailableError, UnauthorizedError } from '../errors';
import { isScope, type Scope } from './api-keys';
import type { JwtSettings } from './settings';

export interface JwtIdentity {
  subject: string;
  scopes: Scope[];
}

export type JwtVerifier = (token: string) => Promise<JwtIdentity>;

/**
 * Verifies bearer tokens against the IdP's JWKS (fetched on first use and cached by jose; the only
 * network call this module makes, and only to the operator's configured URL) or a static key.
 * Issuer, audience and expiry are always checked; only asymmetric algorithms are accepted.
 */
export function createJwtVerifier(settings: JwtSettings): JwtVerifier {
  const key =
    settings.jwksUrl !== undefined
      ? createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: 3000, cooldownDuration: 30_000 })
      : createPublicKey(settings.publicKeyPem ?? '');
  return async (token) => {
    let payload: JWTPayload;
    try {
      const options = {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: settings.algorithms,
        clockTolerance: settings.clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      };
      payload = (
        typeof key === 'function'
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options)
      ).payload;
    } catch (err) {
      throw jwtError(err);
    }
    // jose checks exp and nbf but not an iat ahead of the clock: a token minted for later use
    // (or by an issuer with a wrong clock) is not valid yet.
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + settings.clockToleranceSeconds) {
      throw new UnauthorizedError('bearer token claim "iat" is not valid: it was issued in the future');
    }
    return { subject: String(payload.sub), scopes: scopesOf(payload) };
  };
}

/** OAuth `scope` (space-separated) or `scp` (Azure AD: string or list); unknown scopes are ignored. */
export function scopesOf(payload: JWTPayload): Scope[] {
  const raw = payload['scope'] ?? payload['scp'];
  const names = typeof raw === 'string' ? raw.split(' ') : Array.isArray(raw) ? raw : [];
  return [...new Set(names.filter(isScope))];
}

function jwtError(err: unknown): Error {
  const code = (err as { code?: unknown }).code;
  const claim = (err as { claim?: unknown }).claim;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new UnauthorizedError('bearer token has expired', { cause: err });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return new UnauthorizedError(
        `bearer token claim "${String(claim)}" is not valid: ${(err as Error).message}`,
        { cause: err },
      );
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new UnauthorizedError('bearer token signature is not valid', { cause: err });
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return new UnauthorizedError('bearer token is signed by a key the issuer does not publish', {
        cause: err,
      });
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new UnauthorizedError('bearer token uses an algorithm that is not accepted', { cause: err });
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
    case 'ERR_JOSE_GENERIC': // the JWKS answered something other than 200
      return new ServiceUnavailableError("the identity provider's signing keys cannot be fetched now", {
        cause: err,
        retryAfterSeconds: 5,
      });
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JWK_INVALID':
      return new UnauthorizedError('bearer token is malformed', { cause: err });
    default:
      // A JWKS fetch that fails (connection refused, DNS) is fetch's TypeError; compared by name
      // because fetch may come from another realm.
      if ((err as Error)?.name === 'TypeError') {
        return new ServiceUnavailableError("the identity provider's signing keys cannot be fetched now", {
          cause: err,
          retryAfterSeconds: 5,
        });
      }
      return new UnauthorizedError('bearer token is not valid', { cause: err });
  }
}
