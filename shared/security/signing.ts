import { createPrivateKey, type KeyObject, sign, verify } from 'node:crypto';
import { IntegrityError } from '../errors';
import { SIGNATURE_ALGORITHM, signedText } from '../repository/integrity';
import type { Manifest } from '../repository/manifest';
import { KEY_ID_PATTERN } from '../repository/names';

export { canonicalJson, SIGNATURE_ALGORITHM } from '../repository/integrity';

export type { Attestation } from '../repository/manifest';
export { parseSigningKeys, publicKeyFrom } from './signing-keys';

/**
 * Ed25519 signatures on manifests. The signature covers the whole manifest (which holds the
 * artifact's sha256 and size) except `version`, which the repository assigns at publish time by
 * compare-and-swap, and the attestation itself. So a changed artifact fails the sha256 check and a
 * changed manifest fails the signature.
 */
export function signedBytes(manifest: Manifest): Buffer {
  return Buffer.from(signedText(manifest), 'utf8');
}

export function signManifest(manifest: Manifest, privateKey: KeyObject, keyId: string): Manifest {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(
      `the signing key is ${privateKey.asymmetricKeyType ?? 'not asymmetric'}, expected ed25519`,
    );
  }
  if (!KEY_ID_PATTERN.test(keyId))
    throw new Error(`key id ${JSON.stringify(keyId)}: use 1-128 letters, digits, "_", ".", ":" or "-"`);
  const value = sign(null, signedBytes(manifest), privateKey).toString('base64');
  return { ...manifest, attestation: { keyId, algorithm: SIGNATURE_ALGORITHM, value } };
}

export interface SigningPolicy {
  signingKeys: ReadonlyMap<string, KeyObject>;
  requireSignedModels: boolean;
}

/**
 * What is wrong with a manifest's signature under the policy, or undefined when it may be served.
 * A signature by a configured key is always checked (a bad one is evidence of tampering); an
 * unsigned manifest, or one signed by a key this stage does not know, passes only when the stage
 * does not require signed models.
 */
export function attestationProblem(manifest: Manifest, policy: SigningPolicy): string | undefined {
  const where = `${manifest.name} version ${manifest.version}`;
  const attestation = manifest.attestation;
  if (attestation === undefined) {
    return policy.requireSignedModels
      ? `${where}: the manifest is not signed and this stage requires signed models`
      : undefined;
  }
  const key = policy.signingKeys.get(attestation.keyId);
  if (key === undefined) {
    return policy.requireSignedModels
      ? `${where}: signed with key "${attestation.keyId}", which is not in MODEL_SIGNING_KEYS`
      : undefined;
  }
  const ok = verify(null, signedBytes(manifest), key, Buffer.from(attestation.value, 'base64'));
  return ok
    ? undefined
    : `${where}: the manifest signature by key "${attestation.keyId}" does not match its content`;
}

/** The check the model cache runs on every manifest before the artifact is loaded. */
export function manifestVerifier(policy: SigningPolicy): (manifest: Manifest) => void {
  return (manifest) => {
    const problem = attestationProblem(manifest, policy);
    if (problem !== undefined) {
      throw new IntegrityError(
        `model "${manifest.name}" version ${manifest.version} failed its signature check and will not be served`,
        { cause: new Error(problem) },
      );
    }
  };
}

export function privateKeyFrom(pem: string): KeyObject {
  return createPrivateKey(pem);
}
