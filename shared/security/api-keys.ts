import { createHash, hash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors';

export const SCOPES = ['predict', 'feedback', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyEntry {
  name: string;
  /** sha256 of the key, lower-case hex: the key itself is never configured or stored. */
  sha256: string;
  scopes: Scope[];
  revoked: boolean;
}

const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}

/**
 * `API_KEYS` is either a JSON list `[{"name", "sha256", "scopes": [...], "revoked"?}]` or the
 * compact `name:scope+scope:sha256hex,...` that fits in one environment variable line.
 */
export function parseApiKeys(raw: string | undefined, variable = 'API_KEYS'): ApiKeyEntry[] {
  const text = raw?.trim() ?? '';
  if (text === '') return [];
  const fail = (message: string): never => {
    throw new ConfigError(variable, message);
  };
  let entries: unknown[];
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return fail(`not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(parsed)) return fail('expected a JSON list of {name, sha256, scopes}');
    entries = parsed;
  } else {
    entries = text.split(',').map((part, index) => {
      const fields = part.trim().split(':');
      if (fields.length !== 3)
        fail(`entry ${index}: expected name:scope+scope:sha256hex, got ${fields.length} fields`);
      const [name, scopes, sha256] = fields as [string, string, string];
      return { name, sha256, scopes: scopes.split('+').filter((s) => s !== '') };
    });
  }
  const seenNames = new Set<string>();
  const seenHashes = new Set<string>();
  return entries.map((entry, index) => {
    const where = `entry ${index}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry))
      return fail(`${where}: expected an object`);
    const { name, sha256, scopes, revoked, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0) fail(`${where}: unknown field(s) ${unknown.join(', ')}`);
    if (typeof name !== 'string' || !KEY_NAME.test(name))
      fail(`${where}.name: expected 1-64 letters, digits, "_", "." or "-"`);
    if (typeof sha256 !== 'string' || !HEX64.test(sha256.toLowerCase())) {
      fail(
        `${where}.sha256: expected the key's sha256 as 64 hex digits (modelfleet hash-key), not the key itself`,
      );
    }
    if (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every(isScope)) {
      fail(`${where}.scopes: expected a non-empty list of ${SCOPES.join(', ')}`);
    }
    if (revoked !== undefined && typeof revoked !== 'boolean')
      fail(`${where}.revoked: expected true or false`);
    const keyName = name as string;
    const hash = (sha256 as string).toLowerCase();
    if (seenNames.has(keyName)) fail(`${where}.name: "${keyName}" is used twice`);
    if (seenHashes.has(hash)) fail(`${where}.sha256: the same key is configured twice`);
    seenNames.add(keyName);
    seenHashes.add(hash);
    return {
      name: keyName,
      sha256: hash,
      scopes: [...new Set(scopes as Scope[])],
      revoked: revoked === true,
    };
  });
}

/**
 * Finds the entry whose hash matches the presented key. Every configured hash is compared, with
 * timingSafeEqual, whether or not an earlier one matched: the time taken says nothing about which
 * key (or how much of one) was right.
 */
export function matchApiKey(entries: readonly ApiKeyEntry[], presented: string): ApiKeyEntry | undefined {
  const digest = verifiedDigests.get(presented) ?? sha256(presented);
  let found: ApiKeyEntry | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(digest, digestOf(entry)) && found === undefined) found = entry;
  }
  if (found !== undefined) rememberDigest(presented, digest);
  return found;
}

/** How many presented keys keep their digest; a deployment has a handful of clients. */
export const VERIFIED_DIGEST_CACHE_SIZE = 64;

/**
 * The SHA-256 of keys that matched a configured entry, so a client's next request skips hashing
 * (≈ 5 % of a small model's request). Only the hash is skipped: every configured digest is still
 * compared with timingSafeEqual, so a key revoked or replaced since stops matching at once. Only
 * matched keys get in (a stream of wrong keys cannot grow or churn it), the size is bounded, and a
 * Map, not an object, holds them (a key named `__proto__` is just a string).
 */
const verifiedDigests = new Map<string, Buffer>();

function rememberDigest(presented: string, digest: Buffer): void {
  if (verifiedDigests.has(presented)) return;
  if (verifiedDigests.size >= VERIFIED_DIGEST_CACHE_SIZE) {
    const oldest = verifiedDigests.keys().next().value;
    if (oldest !== undefined) verifiedDigests.delete(oldest);
  }
  verifiedDigests.set(presented, digest);
}

/** For tests: whether a presented key's digest is cached. */
export function hasVerifiedDigest(presented: string): boolean {
  return verifiedDigests.has(presented);
}

// crypto.hash (Node ≥ 20.12) is a one-shot digest without a Hash object: a few µs less per request.
const sha256: (text: string) => Buffer =
  typeof hash === 'function'
    ? (text) => hash('sha256', text, 'buffer')
    : (text) => createHash('sha256').update(text, 'utf8').digest();

// Configured hashes as bytes, decoded once per entry rather than on every request (and again only
// if an entry's hash is replaced).
const digests = new WeakMap<ApiKeyEntry, { hex: string; bytes: Buffer }>();

function digestOf(entry: ApiKeyEntry): Buffer {
  let digest = digests.get(entry);
  if (digest === undefined || digest.hex !== entry.sha256) {
    digest = { hex: entry.sha256, bytes: Buffer.from(entry.sha256, 'hex') };
    digests.set(entry, digest);
  }
  return digest.bytes;
}
