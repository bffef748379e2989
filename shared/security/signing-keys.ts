import { createPublicKey, type KeyObject } from 'node:crypto';
import { ConfigError } from '../errors';
import { KEY_ID } from '../repository/integrity';

// Apart from shared/signing.ts (which needs zod for attestations) because parseConfig reads the
// keys at cold start, and loading zod there would put ≈ 80 ms in front of the first S3 read.

export { KEY_ID };

/** `MODEL_SIGNING_KEYS`: JSON `{"keyId": "<PEM, or base64 of the raw 32-byte key or of its DER>"}`. */
export function parseSigningKeys(
  raw: string | undefined,
  variable = 'MODEL_SIGNING_KEYS',
): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  const text = raw?.trim() ?? '';
  if (text === '') return keys;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(variable, `not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(variable, 'expected a JSON object {"keyId": "public key"}');
  }
  for (const [keyId, value] of Object.entries(parsed)) {
    if (!KEY_ID.test(keyId)) throw new ConfigError(variable, `key id ${JSON.stringify(keyId)} is not valid`);
    if (typeof value !== 'string') throw new ConfigError(variable, `${keyId}: expected a string`);
    let key: KeyObject;
    try {
      key = publicKeyFrom(value);
    } catch (err) {
      throw new ConfigError(variable, `${keyId}: not a public key: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') {
      throw new ConfigError(variable, `${keyId}: is a ${key.asymmetricKeyType} key, expected ed25519`);
    }
    keys.set(keyId, key);
  }
  return keys;
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function publicKeyFrom(text: string): KeyObject {
  const value = text.trim().replace(/\\n/g, '\n');
  if (value.includes('-----BEGIN')) return createPublicKey(value);
  const der = Buffer.from(value, 'base64');
  return createPublicKey({
    key: der.length === 32 ? Buffer.concat([ED25519_SPKI_PREFIX, der]) : der,
    format: 'der',
    type: 'spki',
  });
}
