import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
  // Everything the run writes to the temporary directory lands in one folder that teardown
  // removes: apps built with default settings put their artifact disk cache in
  // <tmpdir>/modelfleet-cache, which otherwise grew by thousands of folders per run and made the
  // next `npm start` scan them all.
  const runTemp = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-test-run-'));
  process.env['MODELFLEET_TEST_RUN_TEMP'] = runTemp;
  process.env['TMPDIR'] = runTemp;
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
