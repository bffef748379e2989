import { BlobServiceClient } from '@azure/storage-blob';
import {
  AZURE_TEST_CONTAINER,
  azuriteConnectionString,
  type RunningEmulator,
  startAzurite,
  startS3rver,
} from './emulators';

/**
 * Starts the storage emulators once for the whole run, on free 127.0.0.1 ports, and hands their
 * endpoints to the test workers through the environment (workers inherit globalSetup's env).
 */
export default async function globalSetup(): Promise<void> {
  const [s3, azurite] = await Promise.all([startS3rver(), startAzurite()]);
  const connectionString = azuriteConnectionString(azurite.endpoint);
  await BlobServiceClient.fromConnectionString(connectionString)
    .getContainerClient(AZURE_TEST_CONTAINER)
    .createIfNotExists();
  process.env['MODELFLEET_TEST_S3_ENDPOINT'] = s3.endpoint;
  process.env['MODELFLEET_TEST_AZURITE_ENDPOINT'] = azurite.endpoint;
  process.env['MODELFLEET_TEST_AZURITE_CONNECTION_STRING'] = connectionString;
  (globalThis as { __modelfleetEmulators?: RunningEmulator[] }).__modelfleetEmulators = [s3, azurite];
}
