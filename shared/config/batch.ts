import type { BatchWorkerSettings } from '../batch/worker';
import { ConfigError } from '../errors';
import { isModelName, stageNameProblem } from '../repository/names';
import { manifestVerifier } from '../security/signing';
import { type Env, readNumber, readString } from './env';
import { parseStoreSettings } from './index';
import { parseSecurityConfig } from './security';

/**
 * Settings of the cloud batch functions (functions/<cloud>/batch.ts): which model scores what lands
 * in the input location, and where the predictions go. Read once per cold start.
 *   BATCH_MODEL       the model (required)        BATCH_OUTPUT  output root URL (required)
 *   BATCH_VERSION     a pinned version (default: the stage's primary, as online)
 *   BATCH_CHUNK_BYTES input bytes per chunk (default 8 MiB), BATCH_ROWS rows per session.run
 *   BATCH_SMALL_OBJECT_BYTES below it an input is scored by one invocation (default 64 MiB; GCP, Azure)
 */
export function parseBatchSettings(env: Env): BatchWorkerSettings {
  const repository = env['MODEL_REPOSITORY']?.trim();
  if (repository === undefined || repository === '') throw new ConfigError('MODEL_REPOSITORY', 'is required');
  const model = env['BATCH_MODEL']?.trim() ?? '';
  const modelProblem =
    model === ''
      ? 'is required'
      : isModelName(model)
        ? undefined
        : `${JSON.stringify(model)} is not a model name`;
  if (modelProblem !== undefined) throw new ConfigError('BATCH_MODEL', modelProblem);
  const outputRoot = env['BATCH_OUTPUT']?.trim() ?? '';
  if (outputRoot === '')
    throw new ConfigError('BATCH_OUTPUT', 'is required (a store URL such as s3://bucket/predictions)');
  const stage = readString(env, 'MODELFLEET_STAGE', 'local');
  const stageProblem = stageNameProblem(stage);
  if (stageProblem !== undefined) throw new ConfigError('MODELFLEET_STAGE', stageProblem);
  const version = readNumber(env, 'BATCH_VERSION', 0, { min: 0, max: 1e9, integer: true });
  const batchRows = readNumber(env, 'BATCH_ROWS', 4096, { min: 1, max: 1e6, integer: true });
  return {
    repository,
    store: parseStoreSettings(env),
    outputRoot,
    model,
    stage,
    ...(version === 0 ? {} : { version }),
    chunkBytes: readNumber(env, 'BATCH_CHUNK_BYTES', 8 * 1024 * 1024, {
      min: 1024,
      max: 2 ** 40,
      integer: true,
    }),
    batchRows,
    smallObjectBytes: readNumber(env, 'BATCH_SMALL_OBJECT_BYTES', 64 * 1024 * 1024, {
      min: 0,
      max: 2 ** 50,
      integer: true,
    }),
    maxTensorElements: readNumber(env, 'MAX_TENSOR_ELEMENTS', 64 * 1024 * 1024, {
      min: 1,
      max: 2 ** 31,
      integer: true,
    }),
    verifyManifest: manifestVerifier(parseSecurityConfig(env, stage)),
  };
}
