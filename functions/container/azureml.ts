import type { ServeRequest } from '../../shared/http/request';
import type { BodyLimits } from '../../shared/security/body';
import { parseJsonBody } from '../../shared/security/body';
import { type ContainerContract, type ContractContext, coreRequest, defaultModel } from './contract';

/**
 * Azure ML managed online endpoint, custom container: the liveness, readiness and scoring routes
 * of the deployment's inference_config (LIVENESS_ROUTE, READINESS_ROUTE, SCORING_ROUTE here) are
 * the core's live, ready and MLflow scoring routes. Azure ML's MLflow request shape
 * `{"input_data": …}` is accepted besides MLflow's own; the model is the one AZUREML_MODEL_DIR
 * holds, or the x-model-name header's among several.
 */
export function azuremlContract(context: ContractContext, limits: BodyLimits): ContainerContract {
  const { liveRoute, readyRoute, predictRoute } = context.settings;
  return (request) => {
    if (request.method === 'GET' && request.path === liveRoute) {
      return { request: coreRequest(request, 'azureml', 'GET', '/v2/health/live') };
    }
    if (request.method === 'GET' && request.path === readyRoute) {
      return { request: coreRequest(request, 'azureml', 'GET', '/v2/health/ready') };
    }
    if (request.path !== predictRoute) return undefined;
    const named = request.headers['x-model-name'];
    const headers = {
      ...request.headers,
      'x-model-name': named || defaultModel(context, 'the x-model-name header'),
    };
    const translated = coreRequest(request, 'azureml', request.method, '/invocations', headers);
    return { request: translated, body: (raw) => fromInputData({ ...translated, body: raw }, limits) };
  };
}

/**
 * `{"input_data": {"columns", "index"?, "data"}}` is a pandas split frame (MLflow's
 * dataframe_split); `{"input_data": [...]}` or `{"input_data": {name: tensor}}` are tensors
 * (MLflow's inputs). Other bodies pass unchanged.
 */
function fromInputData(request: ServeRequest, limits: BodyLimits): ServeRequest['body'] {
  const body = parseJsonBody(request, limits);
  if (body === null || typeof body !== 'object' || !('input_data' in body)) return request.body;
  // Other keys stay, for the scoring route to name the one it does not know.
  const { input_data: input, ...rest } = body as Record<string, unknown>;
  const frame = input !== null && typeof input === 'object' && !Array.isArray(input) && 'data' in input;
  return JSON.stringify({ [frame ? 'dataframe_split' : 'inputs']: input, ...rest });
}
