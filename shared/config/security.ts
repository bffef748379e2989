import { createPublicKey } from 'node:crypto';
import { ConfigError } from '../errors';
import { isScope, parseApiKeys, SCOPES, type Scope } from '../security/api-keys';
import type { JwtSettings, SecurityConfig } from '../security/settings';
import { parseSigningKeys } from '../security/signing-keys';
import { type Env, readBoolean, readNumber } from './env';

const DEFAULT_JWT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;

/** The security settings of `parseConfig`; same rules: read once, fail fast naming the variable. */
export function parseSecurityConfig(env: Env, stage: string): SecurityConfig {
  const local = stage === 'local';
  const apiKeys = parseApiKeys(env['API_KEYS']);
  const jwt = parseJwt(env);
  const signingKeys = parseSigningKeys(env['MODEL_SIGNING_KEYS']);
  const requireSignedModels = readBoolean(env, 'REQUIRE_SIGNED_MODELS') ?? false;
  if (requireSignedModels && signingKeys.size === 0) {
    throw new ConfigError('REQUIRE_SIGNED_MODELS', 'is true but MODEL_SIGNING_KEYS names no public key');
  }
  const keyRate = readNumber(env, 'RATE_LIMIT_KEY_RPS', local ? 0 : 100, { min: 0, max: 1e6 });
  const clientRate = readNumber(env, 'RATE_LIMIT_CLIENT_RPS', local ? 0 : 50, { min: 0, max: 1e6 });
  return {
    authRequired: !local || apiKeys.length > 0 || jwt !== undefined,
    apiKeys,
    ...(jwt === undefined ? {} : { jwt }),
    rateLimitPerKey: {
      ratePerSecond: keyRate,
      burst: readNumber(env, 'RATE_LIMIT_KEY_BURST', Math.max(1, keyRate * 2), { min: 1, max: 1e7 }),
    },
    rateLimitPerClient: {
      ratePerSecond: clientRate,
      burst: readNumber(env, 'RATE_LIMIT_CLIENT_BURST', Math.max(1, clientRate * 2), { min: 1, max: 1e7 }),
    },
    maxJsonDepth: readNumber(env, 'MAX_JSON_DEPTH', 64, { min: 2, max: 10_000, integer: true }),
    maxBatchRows: readNumber(env, 'MAX_BATCH_ROWS', 10_000, { min: 1, max: 1e9, integer: true }),
    signingKeys,
    requireSignedModels,
    platformCallerScopes: parseScopeList(env, 'PLATFORM_CALLER_SCOPES', 'predict+feedback+admin'),
  };
}

function parseScopeList(env: Env, name: string, fallback: string): Scope[] {
  const raw = env[name]?.trim() || fallback;
  if (raw === 'none') return [];
  const scopes = raw.split(/[+,]/).map((s) => s.trim());
  const bad = scopes.find((s) => !isScope(s));
  if (bad !== undefined)
    throw new ConfigError(name, `"${bad}" is not a scope: use ${SCOPES.join(', ')} joined by "+", or none`);
  return [...new Set(scopes as Scope[])];
}

function parseJwt(env: Env): JwtSettings | undefined {
  const jwksUrl = env['JWT_JWKS_URL']?.trim() || undefined;
  const publicKeyPem = env['JWT_PUBLIC_KEY']?.trim() || undefined;
  const issuer = env['JWT_ISSUER']?.trim() || undefined;
  const audience = env['JWT_AUDIENCE']?.trim() || undefined;
  if (jwksUrl === undefined && publicKeyPem === undefined) {
    for (const name of ['JWT_ISSUER', 'JWT_AUDIENCE', 'JWT_ALGORITHMS']) {
      if (env[name]?.trim())
        throw new ConfigError(name, 'is set but neither JWT_JWKS_URL nor JWT_PUBLIC_KEY is');
    }
    return undefined;
  }
  if (jwksUrl !== undefined && publicKeyPem !== undefined) {
    throw new ConfigError('JWT_PUBLIC_KEY', 'set either JWT_JWKS_URL or JWT_PUBLIC_KEY, not both');
  }
  if (jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(jwksUrl);
    } catch {
      throw new ConfigError('JWT_JWKS_URL', `not a URL: ${JSON.stringify(jwksUrl)}`);
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    // Keys fetched over plain HTTP could be swapped in transit; only a loopback IdP may use it.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      throw new ConfigError('JWT_JWKS_URL', 'must be an https:// URL (http:// only on 127.0.0.1)');
    }
  }
  if (publicKeyPem !== undefined && !publicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new ConfigError('JWT_PUBLIC_KEY', 'expected a PEM public key (-----BEGIN PUBLIC KEY-----)');
  }
  if (publicKeyPem !== undefined) {
    try {
      createPublicKey(publicKeyPem.replace(/\\n/g, '\n'));
    } catch (err) {
      throw new ConfigError('JWT_PUBLIC_KEY', `not a usable public key: ${(err as Error).message}`);
    }
  }
  // Without both, a token minted by the same IdP for another service would be accepted here.
  if (issuer === undefined)
    throw new ConfigError('JWT_ISSUER', 'is required when JWT validation is configured');
  if (audience === undefined)
    throw new ConfigError('JWT_AUDIENCE', 'is required when JWT validation is configured');
  const algorithms = (env['JWT_ALGORITHMS']?.trim() || DEFAULT_JWT_ALGORITHMS.join(','))
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  const symmetric = algorithms.find((a) => !ASYMMETRIC.test(a));
  if (symmetric !== undefined) {
    throw new ConfigError(
      'JWT_ALGORITHMS',
      `${symmetric} is not allowed: use asymmetric algorithms (RS/PS/ES*, EdDSA)`,
    );
  }
  return {
    ...(jwksUrl === undefined ? {} : { jwksUrl }),
    ...(publicKeyPem === undefined ? {} : { publicKeyPem: publicKeyPem.replace(/\\n/g, '\n') }),
    issuer,
    audience,
    algorithms,
    clockToleranceSeconds: readNumber(env, 'JWT_CLOCK_TOLERANCE_SECONDS', 5, { min: 0, max: 300 }),
  };
}
