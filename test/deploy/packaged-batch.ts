/**
 * The AWS batch functions run from their unpacked zips, loaded as Lambda loads a handler, against
 * s3rver: in Step Functions' order (plan → the map's items, out of order → finish), then the
 * small-object trigger. Used by test/deploy/serverless.test.ts on the `sls package --stage prod`
 * output; test/batch/batch-worker.test.ts checks the same entries' output against the CLI's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ObjectCreatedEvent } from '../../functions/aws/batch/events';
import { run } from '../../scripts/cli';
import { openStore } from '../../shared/store';
import { S3_TEST_BUCKET } from '../support/emulators';
import { ROOT, runToEnd } from '../support/processes';
import { seededRandom } from '../support/random';

/** The batch functions of serverless.yml, and whether each scores rows (and so needs onnxruntime). */
export const BATCH_FUNCTIONS = {
  batchPlan: false,
  batchFinish: false,
  batchChunk: true,
  batchObjectCreated: true,
} as const;

export type BatchFunction = keyof typeof BATCH_FUNCTIONS;

export interface PackagedBatchRun {
  /** typeof each zip's handler export. */
  exports: Record<string, string>;
  /** Whether anything of onnxruntime was loaded after plan and finish were loaded and plan ran. */
  onnxruntimeBeforeChunk: boolean;
  planned: { out: string; chunks: number };
  chunkRows: number[];
  finished: unknown;
  small: unknown;
}

// Plain CommonJS, run by node from the folder of the unpacked zips.
const DRIVER = `
const handlers = JSON.parse(process.env.BATCH_HANDLERS);
const events = JSON.parse(process.env.BATCH_EVENTS);
const exports = {};
const load = (fn) => {
  const handler = require(handlers[fn].file)[handlers[fn].name];
  exports[fn] = typeof handler;
  return handler;
};
(async () => {
  const plan = load('batchPlan');
  const finish = load('batchFinish');
  const planned = await plan(events.large);
  const onnxruntimeBeforeChunk = Object.keys(require.cache).some((file) => file.includes('onnxruntime'));
  const chunk = load('batchChunk');
  const objectCreated = load('batchObjectCreated');
  const chunkRows = [];
  for (let index = planned.chunks - 1; index >= 0; index--) {
    chunkRows.push((await chunk({ out: planned.out, index })).rows);
  }
  const finished = await finish({ out: planned.out });
  const small = await objectCreated(events.small);
  const result = { exports, onnxruntimeBeforeChunk, planned, chunkRows, finished, small };
  process.stdout.write('\\n' + JSON.stringify(result) + '\\n');
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
`;

const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

function csv(rows: number): string {
  const random = seededRandom(11);
  const lines = Array.from({ length: rows }, () =>
    [4 + random() * 4, 2 + random() * 2, 1 + random() * 6, random() * 2.5].map((v) => v.toFixed(2)).join(','),
  );
  return `${FEATURES.join(',')}\n${lines.join('\n')}\n`;
}

/** The SDK behind the store's writes reads its credentials from process.env. */
async function withEnvironment(env: Record<string, string>, work: () => Promise<void>): Promise<void> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    await work();
  } finally {
    process.env = saved;
  }
}

/** Runs the handlers (`file`: the unpacked bundle, `name`: its export) in one fresh node process. */
export async function runPackagedBatch(
  handlers: Record<BatchFunction, { file: string; name: string }>,
  cwd: string,
): Promise<PackagedBatchRun> {
  const prefix = `batch-zips-${process.pid}`;
  const root = `s3://${S3_TEST_BUCKET}/${prefix}`;
  const endpoint = process.env['MODELFLEET_TEST_S3_ENDPOINT'] as string;
  const env = {
    MODEL_REPOSITORY: `${root}/repository`,
    MODELFLEET_STAGE: 'prod',
    S3_ENDPOINT: endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_PROFILE: '',
    BATCH_MODEL: 'iris',
    BATCH_OUTPUT: `${root}/predictions`,
    BATCH_CHUNK_BYTES: '16384',
  };
  await withEnvironment(env, async () => {
    const iris = path.join(ROOT, 'samples', 'iris');
    const publish = [
      'publish',
      path.join(iris, 'model.onnx'),
      '--name',
      'iris',
      '--features',
      FEATURES.join(','),
    ];
    await run([...publish, '--promote'], env, () => {});
    const input = openStore(`${root}/incoming`, {
      s3Endpoint: endpoint,
      s3ForcePathStyle: true,
      s3Region: 'us-east-1',
    });
    await input.put('rows.csv', Buffer.from(csv(2000)));
    await input.put('small.csv', Buffer.from(csv(50)));
  });
  const recorded = JSON.parse(
    readFileSync(path.join(ROOT, 'test', 'events', 'eventbridge-s3-object-created.json'), 'utf8'),
  ) as ObjectCreatedEvent & { detail: { object: Record<string, unknown> } };
  const eventFor = (key: string): ObjectCreatedEvent => ({
    ...recorded,
    detail: {
      ...recorded.detail,
      bucket: { name: S3_TEST_BUCKET },
      object: { ...recorded.detail.object, key },
    },
  });
  const events = {
    large: eventFor(`${prefix}/incoming/rows.csv`),
    small: eventFor(`${prefix}/incoming/small.csv`),
  };
  const { code, stdout, stderr } = await runToEnd(
    process.execPath,
    ['-e', DRIVER],
    {
      ...env,
      BATCH_HANDLERS: JSON.stringify(handlers),
      BATCH_EVENTS: JSON.stringify(events),
      NODE_PATH: '',
      NODE_OPTIONS: '',
    },
    120_000,
    cwd,
  );
  if (code !== 0) throw new Error(`the packaged batch handlers failed (${code}):\n${stderr}`);
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as PackagedBatchRun;
}
