import path from 'node:path';
import { ConfigError } from '../errors';
import { stageNameProblem } from '../repository/names';
import { type Env, readChoice, readString } from './env';

/** What the CLI takes from the environment when its options do not say (the defaults it shows). */
export interface CliDefaults {
  /** MODEL_REPOSITORY, else ./model-repository. */
  repository: string;
  /** MODELFLEET_STAGE, else local (checked only when a command needs a stage). */
  stage: string;
  /** Recorded in deployment history: MODELFLEET_ACTOR, else USER, else `cli`. */
  actor: string;
}

export function parseCliDefaults(env: Env, cwd = process.cwd()): CliDefaults {
  return {
    repository: readString(env, 'MODEL_REPOSITORY', path.resolve(cwd, 'model-repository')),
    stage: readString(env, 'MODELFLEET_STAGE', 'local'),
    actor: readString(env, 'MODELFLEET_ACTOR', readString(env, 'USER', 'cli')),
  };
}

/** The stage a command works on: --stage, else the default; refused by the server's rule. */
export function checkedStage(option: string | undefined, defaults: CliDefaults): string {
  const stage = option === undefined || option === '' ? defaults.stage : option;
  const problem = stageNameProblem(stage);
  if (problem !== undefined)
    throw new ConfigError(option === undefined ? 'MODELFLEET_STAGE' : '--stage', problem);
  return stage;
}

/** What `npm start` takes from the environment besides parseConfig's settings. */
export interface LocalServerSettings {
  logLevel: 'debug' | 'info';
  /** METRICS=off drops the per-request metric lines (benchmarks, demos). */
  metrics: 'on' | 'off';
  /** Seed ./model-repository with the samples: only when no repository is named and SAMPLES is not off. */
  seedSamples: boolean;
}

export function parseLocalServerSettings(env: Env): LocalServerSettings {
  return {
    logLevel: readChoice(env, 'LOG_LEVEL', ['debug', 'info'], 'info'),
    metrics: readChoice(env, 'METRICS', ['on', 'off'], 'on'),
    seedSamples:
      readString(env, 'MODEL_REPOSITORY', '') === '' &&
      readChoice(env, 'SAMPLES', ['on', 'off'], 'on') === 'on',
  };
}
