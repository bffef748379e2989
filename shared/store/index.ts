import { ConfigError } from '../errors';
import { FsModelStore } from './fs-store';
import type { ModelStore, StoreSettings } from './types';

export { FsModelStore } from './fs-store';
export * from './types';

/**
 * Opens the store named by a repository URL:
 *   file:///path (or a plain path)   a local folder
 *   s3://bucket[/prefix]             S3 or an S3-compatible endpoint (settings.s3Endpoint)
 *   az://account/container[/prefix]  Azure Blob Storage
 *   gs://bucket[/prefix]             Google Cloud Storage
 * `variable` is the setting the URL came from, so a bad value is reported by its name.
 */
export function openStore(
  location: string,
  settings: StoreSettings = {},
  variable = 'MODEL_REPOSITORY',
): ModelStore {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || scheme === 'file') return FsModelStore.fromUrl(location);
  const { host, segments } = splitUrl(location, variable);
  // Each SDK is loaded only when its scheme is used: the others would only cost cold-start time.
  switch (scheme) {
    case 's3': {
      const { S3ModelStore, sdkAvailable } = loadDriver(
        () => require('./s3-store') as typeof import('./s3-store'),
        scheme,
        variable,
      );
      // The reader takes the credentials the SDK's chain would take first (environment variables);
      // without them the SDK's chain decides.
      const readCredentials = settings.s3Credentials;
      if (readCredentials === undefined && !sdkAvailable()) {
        throw new ConfigError(
          variable,
          's3:// needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment (as on Lambda): this package leaves out the AWS SDK that other credential sources need',
        );
      }
      return new S3ModelStore({
        bucket: host,
        ...(readCredentials === undefined ? {} : { readCredentials }),
        prefix: segments.join('/'),
        ...(settings.deadlines === undefined ? {} : { deadlines: settings.deadlines }),
        ...(settings.s3Region === undefined ? {} : { region: settings.s3Region }),
        ...(settings.s3Endpoint === undefined ? {} : { endpoint: settings.s3Endpoint }),
        ...(settings.s3ForcePathStyle === undefined ? {} : { forcePathStyle: settings.s3ForcePathStyle }),
      });
    }
    case 'az': {
      const [container, ...prefix] = segments;
      if (container === undefined) {
        throw new ConfigError(
          variable,
          `${JSON.stringify(location)} names no container; use az://account/container/prefix`,
        );
      }
      const { AzureBlobModelStore } = loadDriver(
        () => require('./azure-store') as typeof import('./azure-store'),
        scheme,
        variable,
      );
      return new AzureBlobModelStore({
        account: host,
        container,
        prefix: prefix.join('/'),
        ...(settings.deadlines === undefined ? {} : { deadlines: settings.deadlines }),
        ...(settings.azureConnectionString === undefined
          ? {}
          : { connectionString: settings.azureConnectionString }),
        ...(settings.azureEndpoint === undefined ? {} : { endpoint: settings.azureEndpoint }),
      });
    }
    case 'gs': {
      const { GcsModelStore } = loadDriver(
        () => require('./gcs-store') as typeof import('./gcs-store'),
        scheme,
        variable,
      );
      return new GcsModelStore({
        bucket: host,
        prefix: segments.join('/'),
        ...(settings.deadlines === undefined ? {} : { deadlines: settings.deadlines }),
        ...(settings.gcsApiEndpoint === undefined ? {} : { apiEndpoint: settings.gcsApiEndpoint }),
        ...(settings.gcsProjectId === undefined ? {} : { projectId: settings.gcsProjectId }),
      });
    }
    default:
      throw new ConfigError(
        variable,
        `unsupported repository scheme "${scheme}://" in ${JSON.stringify(location)}; use file://, s3://, az:// or gs://`,
      );
  }
}

function splitUrl(location: string, variable: string): { host: string; segments: string[] } {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new ConfigError(variable, `${JSON.stringify(location)} is not a valid URL`);
  }
  if (url.hostname === '')
    throw new ConfigError(variable, `${JSON.stringify(location)} names no bucket or account`);
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.port !== '') {
    throw new ConfigError(
      variable,
      `${JSON.stringify(location)}: put endpoints and credentials in their own settings, not in the URL`,
    );
  }
  const segments = decodeURIComponent(url.pathname)
    .split('/')
    .filter((segment) => segment !== '');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    throw new ConfigError(
      variable,
      `${JSON.stringify(location)}: "." and ".." are not allowed in the prefix`,
    );
  }
  return { host: url.hostname, segments };
}

/**
 * Loads a driver module. A package built for one cloud leaves the other clouds' SDKs out (the AWS
 * functions ship only the S3 one), so a missing SDK is a configuration error, not a crash.
 */
function loadDriver<T>(load: () => T, scheme: string, variable: string): T {
  try {
    return load();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw err;
    throw new ConfigError(
      variable,
      `${scheme}:// needs a storage SDK that this package does not include (${(err as Error).message.split('\n')[0]}); use the store this deployment was built for`,
    );
  }
}
