/** What the batch tests share: the CLI's environment for an emulator store, and iris published with the CLI. */
import path from 'node:path';
import { run } from '../../scripts/cli';
import type { BatchSummary } from '../../shared/batch/job';
import type { ModelStore, StoreSettings } from '../../shared/store';
import { ROOT } from './processes';

export const IRIS_FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

/** The environment `modelfleet` reads for a repository on the folder, s3rver or Azurite. */
export function cliEnv(repository: string, settings: StoreSettings): NodeJS.ProcessEnv {
  return {
    MODEL_REPOSITORY: repository,
    MODELFLEET_STAGE: 'local',
    ...(settings.s3Endpoint === undefined
      ? {}
      : {
          S3_ENDPOINT: settings.s3Endpoint,
          S3_FORCE_PATH_STYLE: 'true',
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
        }),
    ...(settings.azureConnectionString === undefined
      ? {}
      : { AZURE_STORAGE_CONNECTION_STRING: settings.azureConnectionString }),
  };
}

/** `modelfleet publish` of the iris sample with its features, promoted on the env's stage. */
export async function publishIris(env: NodeJS.ProcessEnv, extra: string[] = []): Promise<void> {
  const iris = path.join(ROOT, 'samples', 'iris');
  const args = ['publish', path.join(iris, 'model.onnx'), '--name', 'iris', '--features'];
  await run([...args, IRIS_FEATURES.join(','), ...extra, '--promote'], env, () => {});
}

/** A finished job's summary and its prediction lines, part by part, each part's row count checked. */
export async function predictionLines(
  output: ModelStore,
): Promise<{ summary: BatchSummary; lines: string[] }> {
  const success = await output.get('_SUCCESS.json');
  if (success.status !== 'ok') throw new Error('no _SUCCESS.json');
  const summary = JSON.parse(success.body.toString('utf8')) as BatchSummary;
  const lines: string[] = [];
  for (const part of summary.parts) {
    const read = await output.get(part.key);
    if (read.status !== 'ok') throw new Error(`no ${part.key}`);
    const text = read.body.toString('utf8');
    expect(text.split('\n').length - 1).toBe(part.rows);
    lines.push(...text.split('\n').slice(0, -1));
  }
  return { summary, lines };
}
