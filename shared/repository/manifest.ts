import { MANIFEST_SCHEMA } from './document-constants';
import { SIGNATURE_ALGORITHM } from './integrity';
import { isManifest } from './quick-checks';
import type { Manifest } from './schemas';
import { parseChecked } from './validation';

export { ARTIFACT_FILE, MANIFEST_FILE } from './layout';
export { MODEL_NAME_PATTERN } from './names';
export type { Attestation, Manifest } from './schemas';
export { MANIFEST_SCHEMA, SIGNATURE_ALGORITHM };

export type ManifestSample = NonNullable<Manifest['sample']>;

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export function parseManifest(value: unknown, where: string): Manifest {
  return parseChecked(
    value,
    isManifest,
    () => schemas().manifestSchema,
    (message) => new ManifestError(`${where}: invalid manifest: ${message}`),
  );
}

function schemas(): typeof import('./schemas') {
  return require('./schemas') as typeof import('./schemas');
}
