import { ConfigError } from '../errors';
import { FsModelStore } from './fs-store';
import type { ModelStore } from './types';

export { FsModelStore } from './fs-store';
export * from './types';

/**
 * Opens the store named by a repository URL. `file://` URLs and plain paths are local folders.
 * `variable` is the setting the URL came from, so a bad value is reported by its name.
 */
export function openStore(location: string, variable = 'MODEL_REPOSITORY'): ModelStore {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') return FsModelStore.fromUrl(location);
  throw new ConfigError(
    variable,
    `unsupported repository scheme "${scheme}://" in ${JSON.stringify(location)}; use file://`,
  );
}
