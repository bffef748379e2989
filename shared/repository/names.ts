/**
 * The naming rules of a model repository, in one place so that the server, the CLI and the
 * schemas refuse the same names. Names become store keys and URL segments, hence the small
 * alphabets. Kept free of zod: the cold start and the config reader import this.
 */

/** Model names: 1-128 letters, digits, "_", "." or "-", starting with a letter or digit; no "..". */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const MODEL_NAME_RULE = 'use 1-128 letters, digits, "_", "." or "-", starting with a letter or digit';

/** Versions are positive integers (Triton-compatible folder names). */
export const VERSION_PATTERN = /^[1-9]\d{0,8}$/;

/** Stages name `deployments/<stage>.json` and metric dimensions. */
export const STAGE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const STAGE_RULE = 'must be 1-32 lower-case letters, digits, "_" or "-"';

/** Signing key ids, as they appear in a manifest's attestation and in MODEL_SIGNING_KEYS. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function isModelName(value: string): boolean {
  return MODEL_NAME_PATTERN.test(value) && !value.includes('..');
}

export function isVersion(value: string): boolean {
  return VERSION_PATTERN.test(value);
}

export function isStage(value: string): boolean {
  return STAGE_PATTERN.test(value);
}
