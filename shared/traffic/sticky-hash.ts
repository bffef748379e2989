/**
 * The sticky point of a (key, experiment) pair, computable on both sides of the wire: the server
 * hashes with node:crypto (synchronously, on the request path) and the edge module with WebCrypto
 * (asynchronously, in a browser or under Node). Both hash the same bytes and read the same bits, so
 * a user on the canary server-side is on it at the edge too.
 */

const encoder = new TextEncoder();

/** The bytes hashed: UTF-8 of the experiment, a NUL, then UTF-8 of the key. */
export function stickyHashInput(key: string, experiment: string): Uint8Array {
  const head = encoder.encode(experiment);
  const tail = encoder.encode(key);
  const bytes = new Uint8Array(head.length + 1 + tail.length);
  bytes.set(head, 0);
  bytes.set(tail, head.length + 1);
  return bytes;
}

/** A point in [0, 1) from the first 48 bits of a SHA-256 digest (plenty for whole-percent weights). */
export function pointOfDigest(digest: Uint8Array): number {
  if (digest.length < 6) throw new Error(`a sticky digest needs at least 6 bytes, got ${digest.length}`);
  let value = 0;
  for (let i = 0; i < 6; i++) value = value * 256 + (digest[i] as number);
  return value / 2 ** 48;
}

interface Sha256Digester {
  digest(algorithm: 'SHA-256', data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
}

/** `stickyPoint` with WebCrypto's SHA-256, for code that runs where node:crypto does not. */
export async function stickyPointWebCrypto(
  key: string,
  experiment: string,
  subtle: Sha256Digester = (globalThis as unknown as { crypto: { subtle: Sha256Digester } }).crypto.subtle,
): Promise<number> {
  const digest = await subtle.digest('SHA-256', stickyHashInput(key, experiment) as Uint8Array<ArrayBuffer>);
  return pointOfDigest(new Uint8Array(digest));
}

const MAX_KEY_LENGTH = 256;

/** A routing key as given: strings (trimmed, 1-256 chars) and finite numbers count, nothing else. */
export function stickyKeyValue(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed === '' || trimmed.length > MAX_KEY_LENGTH ? undefined : trimmed;
}
