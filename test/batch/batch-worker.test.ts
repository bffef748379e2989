/**
 * The AWS batch entries on s3rver, driven as Step Functions would: the plan, the Distributed Map's
 * items (read from the plan object, run out of order as parallel iterations finish), the finish;
 * and the small-file trigger. Their output equals the CLI's on the same input.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chunk } from '../../functions/aws/batch/chunk';
import { type ObjectCreatedEvent, objectOf, resetBatchWorker } from '../../functions/aws/batch/events';
import { finish } from '../../functions/aws/batch/finish';
import { objectCreated } from '../../functions/aws/batch/object-created';
import { plan } from '../../functions/aws/batch/plan';
import { run } from '../../scripts/cli';
import { openStore } from '../../shared/store';
import { publishIris } from '../support/batch';
import { S3_TEST_BUCKET } from '../support/emulators';
import { removeTempDirs } from '../support/fixtures';
import { ROOT } from '../support/processes';
import { seededRandom } from '../support/random';

afterAll(removeTempDirs);

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
const fixture = JSON.parse(
  readFileSync(path.join(ROOT, 'test', 'events', 'eventbridge-s3-object-created.json'), 'utf8'),
) as ObjectCreatedEvent & { detail: { object: { key: string } } };

function eventFor(key: string): ObjectCreatedEvent {
  return {
    ...fixture,
    detail: {
      ...fixture.detail,
      bucket: { name: S3_TEST_BUCKET },
      object: { ...fixture.detail.object, key },
    },
  };
}

function csv(rows: number): string {
  const random = seededRandom(5);
  const lines = Array.from({ length: rows }, (_, i) =>
    i === 777
      ? '1,2,oops,4'
      : [4 + random() * 4, 2 + random() * 2, 1 + random() * 6, random() * 2.5]
          .map((v) => v.toFixed(2))
          .join(','),
  );
  return `${FEATURES.join(',')}\n${lines.join('\n')}\n`;
}

async function partsText(url: string): Promise<string> {
  const store = openStore(url, settings());
  const names = (await store.list('')).filter((name) => name.startsWith('part-')).sort();
  let text = '';
  for (const name of names) {
    const read = await store.get(name);
    if (read.status === 'ok') text += read.body.toString('utf8');
  }
  return text;
}

const settings = () => ({
  s3Endpoint: process.env['MODELFLEET_TEST_S3_ENDPOINT'] as string,
  s3ForcePathStyle: true,
  s3Region: 'us-east-1',
});

describe('AWS batch entries (Step Functions Distributed Map steps and the small-file trigger)', () => {
  const root = `s3://${S3_TEST_BUCKET}/batch-worker-${process.pid}`;
  const env = {
    MODEL_REPOSITORY: `${root}/repository`,
    MODELFLEET_STAGE: 'prod',
    S3_ENDPOINT: process.env['MODELFLEET_TEST_S3_ENDPOINT'] as string,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    BATCH_MODEL: 'iris',
    BATCH_OUTPUT: `${root}/predictions`,
    BATCH_CHUNK_BYTES: '16384',
  };
  const saved = { ...process.env };
  beforeAll(async () => {
    Object.assign(process.env, env);
    resetBatchWorker();
    await publishIris(env);
    const input = openStore(`${root}/incoming`, settings());
    await input.put('large rows.csv', Buffer.from(csv(5000)));
    await input.put('small.csv', Buffer.from(csv(50)));
  });
  afterAll(() => {
    process.env = saved;
    resetBatchWorker();
  });

  it('reads the bucket and the URL-encoded key of the recorded EventBridge event', () => {
    expect(objectOf(fixture)).toEqual({ folder: 's3://example-bucket/incoming', key: 'example-key.csv' });
    expect(objectOf(eventFor('a/b/large+rows.csv'))).toEqual({
      folder: `s3://${S3_TEST_BUCKET}/a/b`,
      key: 'large rows.csv',
    });
  });

  it('plan → map items in any order → finish gives the CLI output for the same input', async () => {
    const key = `batch-worker-${process.pid}/incoming/large+rows.csv`;
    const planned = await plan(eventFor(key));
    expect(planned).toMatchObject({
      out: `${root}/predictions/large rows`,
      planBucket: S3_TEST_BUCKET,
      resumed: false,
    });
    expect(planned.chunks).toBeGreaterThan(3);
    // The map's ItemReader reads this object: a JSON array of the chunks.
    const planObject = await openStore(`s3://${planned.planBucket}`, settings()).get(planned.planKey);
    if (planObject.status !== 'ok') throw new Error('no plan');
    const items = JSON.parse(planObject.body.toString('utf8')) as { index: number }[];
    expect(items.map((item) => item.index)).toEqual([...Array(planned.chunks).keys()]);
    // Parallel iterations finish in any order; a retried iteration does its chunk again.
    const order = [...items].reverse();
    for (const item of [...order, order[0]])
      await chunk({ out: planned.out, index: (item as { index: number }).index });
    const summary = await finish({ out: planned.out });
    expect(summary).toMatchObject({ rows: 5000, errors: 1, chunks: planned.chunks });

    const cliOut = `${root}/cli-out`;
    await run(
      [
        'batch',
        `${root}/incoming/large rows.csv`,
        '--model',
        'iris',
        '--out',
        cliOut,
        '--chunk-size',
        '16384',
        '--stage',
        'prod',
      ],
      env,
      () => {},
    );
    const cliText = await partsText(cliOut);
    expect(cliText.split('\n').length - 1).toBe(5000);
    expect(await partsText(planned.out)).toBe(cliText);
    const errors = await openStore(planned.out, settings()).get('errors.jsonl');
    expect(errors.status === 'ok' && JSON.parse(errors.body.toString('utf8'))).toMatchObject({
      row: 777,
      error: 'column "petal_length": expected a number, got "oops"',
    });
  });

  it('the small-file trigger scores the whole object in one invocation', async () => {
    const result = await objectCreated(eventFor(`batch-worker-${process.pid}/incoming/small.csv`));
    expect(result).toEqual({ out: `${root}/predictions/small`, rows: 50, errors: 0 });
    expect((await partsText(result.out)).split('\n').length - 1).toBe(50);
  });
});
