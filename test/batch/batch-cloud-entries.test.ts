import { InvocationContext } from '@azure/functions';
import {
  blobOf,
  CHUNK_QUEUE,
  onBlobCreated,
  onChunk,
  resetBatchWorker as resetAzure,
} from '../../functions/azure/batch';
import { resetBatchWorker as resetGcp, runStep } from '../../functions/gcp/batch';
import { openStore, type StoreSettings } from '../../shared/store';
import { closeFakeGcs, repositoryLocation } from '../storage/stores';
import { publishIris } from '../support/batch';
import { removeTempDirs } from '../support/fixtures';

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const ROWS = 3000;
const CSV = `${FEATURES.join(',')}\n${Array.from({ length: ROWS }, (_, i) => `${4 + (i % 40) / 10},3.1,${1 + (i % 50) / 10},${(i % 25) / 10}`).join('\n')}\n`;
const saved = { ...process.env };

afterAll(async () => {
  process.env = saved;
  await closeFakeGcs();
  removeTempDirs();
});

async function prepare(url: string, settings: StoreSettings, env: Record<string, string>) {
  process.env = {
    ...saved,
    ...env,
    MODEL_REPOSITORY: `${url}/repository`,
    MODELFLEET_STAGE: 'prod',
    BATCH_MODEL: 'iris',
    BATCH_OUTPUT: `${url}/predictions`,
    BATCH_CHUNK_BYTES: '8192',
  };
  await publishIris(process.env);
  await openStore(`${url}/incoming`, settings).put('rows.csv', Buffer.from(CSV));
}

async function lineCount(url: string, settings: StoreSettings): Promise<number> {
  const store = openStore(url, settings);
  let lines = 0;
  for (const name of (await store.list('')).filter((n) => n.startsWith('part-'))) {
    const read = await store.get(name);
    if (read.status === 'ok') lines += read.body.toString('utf8').split('\n').length - 1;
  }
  return lines;
}

describe('Azure: Event Grid BlobCreated → jobs queue → one message per chunk', () => {
  it('reads blob URLs of Azure and of Azurite', () => {
    expect(blobOf('https://acct.blob.core.windows.net/batch/incoming/a%20b.csv')).toEqual({
      folder: 'az://acct/batch/incoming',
      key: 'a b.csv',
    });
    expect(blobOf('http://127.0.0.1:10000/devstoreaccount1/batch/incoming/x.jsonl')).toEqual({
      folder: 'az://devstoreaccount1/batch/incoming',
      key: 'x.jsonl',
    });
  });

  it('fans a large blob out in chunk messages; the last chunk finishes the job', async () => {
    const { url, settings } = await repositoryLocation('azure');
    await prepare(url, settings, {
      AZURE_STORAGE_CONNECTION_STRING: settings.azureConnectionString as string,
      BATCH_SMALL_OBJECT_BYTES: '1000',
    });
    resetAzure();
    const blobUrl = `${process.env['MODELFLEET_TEST_AZURITE_ENDPOINT']}/${url.split('/').slice(3).join('/')}/incoming/rows.csv`;
    const context = new InvocationContext({ functionName: 'modelfleetBatchJob', logHandler: () => {} });
    const planned = await onBlobCreated(
      { eventType: 'Microsoft.Storage.BlobCreated', data: { url: blobUrl, contentLength: CSV.length } },
      context,
    );
    expect(planned).toMatchObject({ out: `${url}/predictions/rows` });
    const messages = context.extraOutputs.get(CHUNK_QUEUE) as { out: string; index: number }[];
    expect(messages.length).toBe((planned as { chunks: number }).chunks);
    const results = [];
    for (const message of messages.reverse()) results.push(await onChunk(message));
    expect(results.filter((result) => 'finished' in result)).toEqual([{ index: 0, finished: ROWS }]);
    expect(await lineCount(`${url}/predictions/rows`, settings)).toBe(ROWS);
    expect(await onBlobCreated({ eventType: 'Microsoft.Storage.BlobDeleted' }, context)).toEqual({
      ignored: true,
    });
  });
});

describe('GCP: the workflow steps on the GCS fake', () => {
  it('plan → chunks in any order → finish', async () => {
    const { url, settings } = await repositoryLocation('gcs');
    await prepare(url, settings, {
      GCS_API_ENDPOINT: settings.gcsApiEndpoint as string,
      GOOGLE_CLOUD_PROJECT: 'test',
    });
    resetGcp();
    const [bucket, ...prefix] = url.slice('gs://'.length).split('/');
    const name = `${prefix.join('/')}/incoming/rows.csv`;
    const planned = (await runStep({ step: 'plan', bucket, name })) as { out: string; chunks: number };
    for (let index = planned.chunks - 1; index >= 0; index--)
      await runStep({ step: 'chunk', out: planned.out, index });
    expect(await runStep({ step: 'finish', out: planned.out })).toEqual({ rows: ROWS, errors: 0 });
    expect(await lineCount(planned.out, settings)).toBe(ROWS);
    await expect(runStep({ step: 'nope' })).rejects.toThrow('unknown step "nope"');
  });
});
