import { ConfigError } from '../errors';
import { type Env, readChoice, readNumber, readString } from './env';

export const CONTAINER_PLATFORMS = ['sagemaker', 'vertex', 'azureml'] as const;
export type ContainerPlatform = (typeof CONTAINER_PLATFORMS)[number];

/**
 * A managed endpoint's container contract (docs/containers.md): the port and routes the platform
 * calls, and where it put the model. Each platform's routes are translated onto the core's own
 * (functions/container/); everything else the server answers stays as it is.
 */
export interface ContainerSettings {
  platform: ContainerPlatform;
  /** The platform's port; undefined: PORT as for any server. */
  port?: number;
  /** Folder or store URL of the mounted model (MODEL_REPOSITORY, when set, wins). */
  modelLocation: string;
  /** The variable `modelLocation` came from, for errors about it. */
  modelVariable: string;
  /** SERVED_MODEL: the model a request that names none goes to; default: the only one mounted. */
  servedModel?: string;
  /** The name of a mounted bare model.onnx without a manifest. */
  fallbackModelName: string;
  liveRoute: string;
  readyRoute: string;
  predictRoute: string;
}

/**
 * SERVING_CONTRACT: `sagemaker`, `vertex`, `azureml`, `none`, or `auto` (default), which picks
 * Vertex when AIP_HTTP_PORT is set, Azure ML when AZUREML_MODEL_DIR is, SageMaker when
 * SAGEMAKER_BIND_TO_PORT is: the variables those platforms set in the container.
 */
export function parseContainerSettings(env: Env): ContainerSettings | undefined {
  const choice = readChoice(env, 'SERVING_CONTRACT', ['auto', 'none', ...CONTAINER_PLATFORMS], 'auto');
  const platform = choice === 'auto' ? detectPlatform(env) : choice === 'none' ? undefined : choice;
  if (platform === undefined) return undefined;
  const servedModel = readString(env, 'SERVED_MODEL', '');
  const common = {
    platform,
    fallbackModelName: servedModel || 'model',
    ...(servedModel === '' ? {} : { servedModel }),
  };
  switch (platform) {
    case 'sagemaker':
      return {
        ...common,
        port: readNumber(env, 'SAGEMAKER_BIND_TO_PORT', 8080, PORT_RANGE),
        ...modelFrom(env, 'SM_MODEL_DIR', '/opt/ml/model'),
        liveRoute: '/ping',
        readyRoute: '/ping',
        predictRoute: '/invocations',
      };
    case 'vertex':
      return {
        ...common,
        port: readNumber(env, 'AIP_HTTP_PORT', 8080, PORT_RANGE),
        ...modelFrom(env, 'AIP_STORAGE_URI'),
        liveRoute: readRoute(env, 'AIP_HEALTH_ROUTE'),
        readyRoute: readRoute(env, 'AIP_HEALTH_ROUTE'),
        predictRoute: readRoute(env, 'AIP_PREDICT_ROUTE'),
      };
    case 'azureml':
      return {
        ...common,
        ...modelFrom(env, 'AZUREML_MODEL_DIR'),
        liveRoute: readRoute(env, 'LIVENESS_ROUTE', '/live'),
        readyRoute: readRoute(env, 'READINESS_ROUTE', '/ready'),
        predictRoute: readRoute(env, 'SCORING_ROUTE', '/score'),
      };
  }
}

/** 0 picks a free port, as PORT=0 does (the platforms never set it; tests do). */
const PORT_RANGE = { min: 0, max: 65535, integer: true };

function detectPlatform(env: Env): ContainerPlatform | undefined {
  const set = (name: string) => (env[name]?.trim() ?? '') !== '';
  if (set('AIP_HTTP_PORT')) return 'vertex';
  if (set('AZUREML_MODEL_DIR')) return 'azureml';
  if (set('SAGEMAKER_BIND_TO_PORT')) return 'sagemaker';
  return undefined;
}

/** MODEL_REPOSITORY when set, else the platform's variable, else its fixed mount. */
function modelFrom(
  env: Env,
  variable: string,
  fallback?: string,
): { modelLocation: string; modelVariable: string } {
  const named = readString(env, 'MODEL_REPOSITORY', '');
  if (named !== '') return { modelLocation: named, modelVariable: 'MODEL_REPOSITORY' };
  const location = readString(env, variable, fallback ?? '');
  if (location === '') {
    throw new ConfigError(
      variable,
      'the platform sets it to where the model is; set it (or MODEL_REPOSITORY)',
    );
  }
  return { modelLocation: location, modelVariable: variable };
}

function readRoute(env: Env, name: string, fallback?: string): string {
  const route = readString(env, name, fallback ?? '');
  if (route === '') throw new ConfigError(name, 'the platform sets it to the route it calls; set it');
  if (!/^\/[\w\-./:{}@~]*$/.test(route) || route.includes('//')) {
    throw new ConfigError(name, `expected a path starting with /, got ${JSON.stringify(route)}`);
  }
  return route;
}
