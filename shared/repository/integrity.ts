import { ARTIFACT_FILE } from './layout';
import { KEY_ID_PATTERN } from './names';

/**
 * The pure halves of a version's integrity checks: what the artifact's size and hash must be, and
 * which bytes a manifest signature covers. No node:crypto here, so the edge module (browser,
 * onnxruntime-web) checks a package exactly as the server does, with WebCrypto doing the hashing.
 */

export const SIGNATURE_ALGORITHM = 'Ed25519';
/** Key ids as manifests and MODEL_SIGNING_KEYS name them (the rule lives in names.ts). */
export const KEY_ID = KEY_ID_PATTERN;
const SIGNATURE_DOMAIN = 'modelfleet/manifest-signature@1\n';

/** JSON with object keys sorted at every level, so that the bytes do not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value))
    return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The text an Ed25519 manifest signature covers (as UTF-8): the whole manifest except `version`,
 * which the repository assigns at publish time, and the attestation itself.
 */
export function signedText(manifest: { version?: unknown; attestation?: unknown }): string {
  const { version: _version, attestation: _attestation, ...covered } = manifest;
  return SIGNATURE_DOMAIN + canonicalJson(covered);
}

/**
 * What is wrong with an artifact against its manifest, or undefined. `sha256Hex` is only called
 * when the size matches, so a truncated download is named as such without hashing it.
 */
export function artifactProblem(
  manifest: { name: string; version: number; artifact: { sha256: string; bytes: number } },
  byteLength: number,
  sha256Hex: () => string,
): string | undefined {
  const where = `${manifest.name} version ${manifest.version}`;
  if (byteLength !== manifest.artifact.bytes) {
    return `${where}: ${ARTIFACT_FILE} has ${byteLength} bytes, the manifest says ${manifest.artifact.bytes}`;
  }
  const actual = sha256Hex();
  if (actual !== manifest.artifact.sha256) {
    return `${where}: ${ARTIFACT_FILE} sha256 is ${actual}, the manifest says ${manifest.artifact.sha256}`;
  }
  return undefined;
}
