import { BadRequestError } from '../errors';

/**
 * The one rule set for model, version, stage and signing-key names. They become store keys, URL
 * segments and file names, so the server, the config, the schemas and the CLI must agree on them:
 * a stage the CLI accepts but the server refuses would be a deployment nobody can serve. Kept free
 * of zod: the cold start and the config reader import this.
 */

/** Model names: letters, digits, "_", "." or "-", starting with a letter or digit; never "..". */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const MODEL_NAME_RULE =
  'must be 1-128 characters of letters, digits, "_", "." or "-", starting with a letter or digit';

/** Stage names: `<model>/deployments/<stage>.json` and MODELFLEET_STAGE. */
export const STAGE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
export const STAGE_NAME_RULE = 'must be 1-32 lower-case letters, digits, "_" or "-"';

/** Versions: positive integers written without sign, leading zeros or exponent. */
export const VERSION_PATTERN = /^[1-9]\d{0,8}$/;

/** Signing key ids, as they appear in a manifest's attestation and in MODEL_SIGNING_KEYS. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function isModelName(value: string): boolean {
  return MODEL_NAME_PATTERN.test(value) && !value.includes('..');
}

export function isVersion(value: string): boolean {
  return VERSION_PATTERN.test(value);
}

/** Why `value` is not a stage name, or undefined when it is one. */
export function stageNameProblem(value: string): string | undefined {
  return STAGE_NAME_PATTERN.test(value) ? undefined : `${STAGE_NAME_RULE}, got ${JSON.stringify(value)}`;
}

/** The version a path segment or argument names, or undefined when it is not a valid version. */
export function versionOf(text: string): number | undefined {
  return VERSION_PATTERN.test(text) ? Number(text) : undefined;
}

/** A model name from a request path; 400 when it is not one. */
export function modelName(value: string | undefined): string {
  if (value === undefined || !isModelName(value)) {
    throw new BadRequestError(
      `model name ${JSON.stringify(value)} is not valid: use letters, digits, "_", "." or "-"`,
    );
  }
  return value;
}

/** A version from a request path; 400 when it is not one. */
export function versionNumber(value: string): number {
  const version = versionOf(value);
  if (version === undefined) {
    throw new BadRequestError(
      `version ${JSON.stringify(value)} is not valid: versions are positive integers`,
    );
  }
  return version;
}
