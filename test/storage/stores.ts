import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SAMPLES_DIR } from '../../scripts/lib/samples';
import { packageModel } from '../../shared/control/packaging';
import type { VersionPackage } from '../../shared/repository/repository';
import { type ModelStore, openStore, type StoreSettings } from '../../shared/store';
import { type FakeGcs, startFakeGcs } from '../fakes/gcs-json-api-fake';
import { AZURE_TEST_CONTAINER, AZURITE_ACCOUNT, S3_TEST_BUCKET } from '../support/emulators';
import { sampleRequest, tempDir } from '../support/fixtures';

// s3rver accepts any signature; fixed keys keep the SDK from looking for credentials elsewhere
// (an instance-metadata lookup would leave 127.0.0.0/8).
process.env['AWS_ACCESS_KEY_ID'] = 'S3RVER';
process.env['AWS_SECRET_ACCESS_KEY'] = 'S3RVER';
process.env['AWS_EC2_METADATA_DISABLED'] = 'true';

export type StoreKind = 'fs' | 's3' | 'azure' | 'gcs';
export const STORE_KINDS: StoreKind[] = ['fs', 's3', 'azure', 'gcs'];
/** Stores whose server honours conditional writes (s3rver does not; see s3-store.test.ts). */
export const CAS_STORE_KINDS: StoreKind[] = ['fs', 'azure', 'gcs'];

export const GCS_TEST_BUCKET = 'modelfleet-test';

let fakeGcs: Promise<FakeGcs> | undefined;

/** The GCS fake for this test file (one per worker), closed by `closeFakeGcs`. */
export function fakeGcsServer(): Promise<FakeGcs> {
  fakeGcs ??= startFakeGcs();
  return fakeGcs;
}

export async function closeFakeGcs(): Promise<void> {
  const running = fakeGcs;
  fakeGcs = undefined;
  if (running !== undefined) await (await running).close();
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set: the jest global setup starts the emulators`);
  return value;
}

/** The URL and settings that reach a fresh, empty repository of this kind. */
export async function repositoryLocation(kind: StoreKind): Promise<{ url: string; settings: StoreSettings }> {
  const prefix = `t-${randomBytes(6).toString('hex')}`;
  switch (kind) {
    case 'fs':
      return { url: `file://${tempDir('modelfleet-store-')}`, settings: {} };
    case 's3':
      return {
        url: `s3://${S3_TEST_BUCKET}/${prefix}`,
        settings: {
          s3Endpoint: requireEnv('MODELFLEET_TEST_S3_ENDPOINT'),
          s3ForcePathStyle: true,
          s3Region: 'us-east-1',
          // As on Lambda: keys in the environment, so reads take the SDK-free path.
          s3Credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        },
      };
    case 'azure':
      return {
        url: `az://${AZURITE_ACCOUNT}/${AZURE_TEST_CONTAINER}/${prefix}`,
        settings: { azureConnectionString: requireEnv('MODELFLEET_TEST_AZURITE_CONNECTION_STRING') },
      };
    case 'gcs':
      return {
        url: `gs://${GCS_TEST_BUCKET}/${prefix}`,
        settings: { gcsApiEndpoint: (await fakeGcsServer()).endpoint },
      };
  }
}

export async function freshStore(kind: StoreKind): Promise<ModelStore> {
  const { url, settings } = await repositoryLocation(kind);
  return openStore(url, settings);
}

let iris: Promise<VersionPackage> | undefined;

/** The bundled iris sample as a package (made once per test file). */
export function irisPackage(): Promise<VersionPackage> {
  iris ??= packageModel({
    name: 'iris',
    artifact: readFileSync(path.join(SAMPLES_DIR, 'iris', 'model.onnx')),
    sample: JSON.parse(readFileSync(path.join(SAMPLES_DIR, 'iris', 'sample.json'), 'utf8')),
    now: new Date('2026-01-01T00:00:00Z'),
  });
  return iris;
}

export const irisRequest = sampleRequest('iris');
