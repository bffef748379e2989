import { IntegrityError } from '../shared/errors';
import { artifactProblem, KEY_ID, SIGNATURE_ALGORITHM, signedText } from '../shared/repository/integrity';
import type { Manifest } from '../shared/repository/manifest';

/**
 * The server's integrity checks (shared/repository/integrity.ts, shared/security/signing.ts) with
 * WebCrypto doing the hashing and the Ed25519 verification, so they run in a browser and in Node.
 */

interface Subtle {
  digest(algorithm: string, data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer>;
  importKey(
    format: 'raw' | 'spki',
    key: Uint8Array<ArrayBuffer>,
    algorithm: { name: string },
    extractable: boolean,
    usages: string[],
  ): Promise<unknown>;
  verify(
    algorithm: { name: string },
    key: unknown,
    signature: Uint8Array<ArrayBuffer>,
    data: Uint8Array<ArrayBuffer>,
  ): Promise<boolean>;
}

function subtle(): Subtle {
  const crypto = (globalThis as { crypto?: { subtle?: Subtle } }).crypto;
  if (crypto?.subtle === undefined) {
    throw new IntegrityError(
      'WebCrypto is not available here (an insecure context?): models cannot be verified',
    );
  }
  return crypto.subtle;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await subtle().digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}

/** Throws IntegrityError unless the artifact has the manifest's size and sha256; returns the hash. */
export async function verifyArtifact(manifest: Manifest, artifact: Uint8Array): Promise<string> {
  const hash = artifact.byteLength === manifest.artifact.bytes ? await sha256Hex(artifact) : '';
  const problem = artifactProblem(manifest, artifact.byteLength, () => hash);
  if (problem !== undefined) {
    throw new IntegrityError(`refused: ${problem} (tampered or damaged); it will not be run`);
  }
  return hash;
}

export type SigningKeys = ReadonlyMap<string, unknown>;

/**
 * Public keys as MODEL_SIGNING_KEYS gives them: `{"keyId": "<PEM, or base64 of the raw 32-byte key
 * or of its DER>"}`.
 */
export async function importSigningKeys(keys: Readonly<Record<string, string>>): Promise<SigningKeys> {
  const imported = new Map<string, unknown>();
  for (const [keyId, text] of Object.entries(keys)) {
    if (!KEY_ID.test(keyId)) throw new TypeError(`signingKeys: key id ${JSON.stringify(keyId)} is not valid`);
    const pem = text.trim().replace(/\\n/g, '\n');
    const body = pem.includes('-----BEGIN') ? pem.replace(/-----[A-Z ]+-----/g, '') : pem;
    const der = base64Bytes(body.replace(/\s+/g, ''));
    const format = der.length === 32 ? 'raw' : 'spki';
    try {
      imported.set(
        keyId,
        await subtle().importKey(format, der, { name: SIGNATURE_ALGORITHM }, false, ['verify']),
      );
    } catch (err) {
      throw new TypeError(`signingKeys: ${keyId} is not an Ed25519 public key: ${(err as Error).message}`);
    }
  }
  return imported;
}

/**
 * The server's policy (shared/security/signing.ts attestationProblem): a signature by a known key
 * is always checked; an unsigned manifest, or one by an unknown key, passes only when signatures
 * are not required.
 */
export async function verifyAttestation(
  manifest: Manifest,
  keys: SigningKeys,
  requireSigned: boolean,
): Promise<string | undefined> {
  const where = `model "${manifest.name}" version ${manifest.version}`;
  const attestation = manifest.attestation;
  const refuse = (problem: string): never => {
    throw new IntegrityError(`refused: ${where} ${problem}; it will not be run`);
  };
  if (attestation === undefined) {
    return requireSigned ? refuse('is not signed and signed models are required') : undefined;
  }
  const key = keys.get(attestation.keyId);
  if (key === undefined) {
    return requireSigned
      ? refuse(`is signed with key "${attestation.keyId}", which is not trusted here`)
      : undefined;
  }
  const data = new TextEncoder().encode(signedText(manifest)) as Uint8Array<ArrayBuffer>;
  const ok = await subtle().verify({ name: SIGNATURE_ALGORITHM }, key, base64Bytes(attestation.value), data);
  if (!ok) refuse(`has a signature by key "${attestation.keyId}" that does not match its content`);
  return attestation.keyId;
}

function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
