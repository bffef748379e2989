import { UnsupportedMediaTypeError } from '../../shared/errors';
import type { ServeRequest, ServeResponse } from '../../shared/http/request';
import { csvToMlflow, npyToMlflow, predictionsToCsv } from './bodies';
import { type ContainerContract, type ContractContext, coreRequest, defaultModel } from './contract';

/**
 * SageMaker bring-your-own-container hosting: `GET /ping` is the core's readiness, `POST
 * /invocations` its MLflow scoring route (the format MLflow's own SageMaker images take), with
 * the model from X-Amzn-SageMaker-Target-Model (a multi-model endpoint names the archive,
 * `iris.tar.gz`) or CustomAttributes `model=NAME`, else the only mounted model; CustomAttributes
 * `version=N` pins a version.
 */
export function sagemakerContract(context: ContractContext): ContainerContract {
  return (request) => {
    if (request.path === '/ping' && request.method === 'GET') {
      return { request: coreRequest(request, 'sagemaker', 'GET', '/v2/health/ready') };
    }
    if (request.path !== '/invocations') return undefined;
    const contentType = mediaType(request.headers['content-type']);
    const convert = BODY_CONVERTERS[contentType];
    if (convert === undefined && contentType !== 'application/json') {
      throw new UnsupportedMediaTypeError(
        `content-type: SageMaker invocations take application/json, text/csv or application/x-npy, got ${JSON.stringify(contentType || 'nothing')}`,
      );
    }
    const headers: Record<string, string> = { ...request.headers, 'content-type': 'application/json' };
    const attributes = request.headers['x-amzn-sagemaker-custom-attributes'];
    // A single-model endpoint forwards no TargetModel: there the caller names it in CustomAttributes.
    const target = request.headers['x-amzn-sagemaker-target-model'] || customAttribute(attributes, 'model');
    headers['x-model-name'] =
      target === undefined || target === ''
        ? defaultModel(context, 'X-Amzn-SageMaker-Target-Model or CustomAttributes model=NAME')
        : modelOfTarget(target);
    delete headers['x-model-version'];
    const pinned = customAttribute(attributes, 'version');
    if (pinned !== undefined) headers['x-model-version'] = pinned;
    const wantsCsv = mediaType(request.headers['accept']) === 'text/csv';
    return {
      request: coreRequest(request, 'sagemaker', request.method, '/invocations', headers),
      ...(convert === undefined ? {} : { body: convert }),
      respond: (response) => answer(response, wantsCsv),
    };
  };
}

const BODY_CONVERTERS: Record<string, (body: ServeRequest['body']) => string> = {
  'text/csv': csvToMlflow,
  'application/x-npy': npyToMlflow,
};

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** `iris.tar.gz`, `models/iris.tar.gz` or `iris` → `iris`; the core checks the name. */
export function modelOfTarget(target: string): string {
  const file =
    target
      .split('/')
      .filter((part) => part !== '')
      .at(-1) ?? target;
  return file.replace(/\.(tar\.gz|tgz|tar)$/i, '');
}

/** `key=value` pairs separated by `;` or `,` (the string is the caller's own; other keys are ignored). */
export function customAttribute(attributes: string | undefined, key: string): string | undefined {
  for (const pair of (attributes ?? '').split(/[;,]/)) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim().toLowerCase() === key) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/** Which model, version and variant answered, back to the caller in its CustomAttributes. */
function answer(response: ServeResponse, wantsCsv: boolean): ServeResponse {
  const { headers } = response;
  const served = ['x-model-name', 'x-model-version', 'x-model-variant']
    .filter((name) => headers[name] !== undefined)
    .map((name) => `${name.slice('x-model-'.length)}=${headers[name]}`);
  headers['x-amzn-sagemaker-custom-attributes'] = served.join(';');
  if (!wantsCsv || typeof response.body !== 'string') return response;
  const csv = predictionsToCsv(response.body);
  if (csv === undefined) return response;
  headers['content-type'] = 'text/csv';
  return { status: response.status, headers, body: csv };
}
