import type { KeyObject } from 'node:crypto';
import type { ApiKeyEntry, Scope } from './api-keys';

/** Security settings as `parseConfig` (shared/config/) reads them from the environment. */

export interface JwtSettings {
  /** Where the IdP publishes its keys (fetched lazily, cached by jose), or a static public key. */
  jwksUrl?: string;
  publicKeyPem?: string;
  issuer: string;
  audience: string;
  algorithms: string[];
  clockToleranceSeconds: number;
}

export interface BucketSettings {
  /** Tokens added per second; 0 turns the limiter off. */
  ratePerSecond: number;
  burst: number;
}

export interface SecurityConfig {
  /** false only on the local stage with no credentials configured. */
  authRequired: boolean;
  apiKeys: ApiKeyEntry[];
  jwt?: JwtSettings;
  rateLimitPerKey: BucketSettings;
  rateLimitPerClient: BucketSettings;
  maxJsonDepth: number;
  maxBatchRows: number;
  signingKeys: ReadonlyMap<string, KeyObject>;
  requireSignedModels: boolean;
  /** Scopes of callers the platform authenticated (AWS IAM); empty: such callers need a key too. */
  platformCallerScopes: Scope[];
}
