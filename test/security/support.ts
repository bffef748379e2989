import type { ModelRepository } from '../../shared/repository/repository';
import { hashApiKey } from '../../shared/security/api-keys';
import { buildTestApp, sampleRepository, type TestApp } from '../support/fixtures';

export const KEYS = {
  predict: 'test-predict-key-0123456789',
  admin: 'test-admin-key-0123456789',
  feedback: 'test-feedback-key-0123456789',
  revoked: 'test-revoked-key-0123456789',
};

/** API_KEYS in its JSON form: only hashes, as an operator would configure it. */
export const API_KEYS = JSON.stringify([
  { name: 'client', sha256: hashApiKey(KEYS.predict), scopes: ['predict'] },
  { name: 'ops', sha256: hashApiKey(KEYS.admin), scopes: ['predict', 'feedback', 'admin'] },
  { name: 'labeler', sha256: hashApiKey(KEYS.feedback), scopes: ['feedback'] },
  { name: 'old', sha256: hashApiKey(KEYS.revoked), scopes: ['predict'], revoked: true },
]);

export type SecuredApp = TestApp;

/** An app on the `dev` stage (default-deny) over the sample repository, configured from `env`. */
export async function securedApp(
  env: Record<string, string>,
  options: { repository?: ModelRepository; now?: () => number } = {},
): Promise<SecuredApp> {
  const repository = options.repository ?? (await sampleRepository());
  return buildTestApp(repository, {
    env: { MODELFLEET_STAGE: 'dev', ...env },
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}
