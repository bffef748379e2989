import { type ContainerContract, type ContractContext, coreRequest, defaultModel } from './contract';

/**
 * Vertex AI custom-container prediction: GET AIP_HEALTH_ROUTE is the core's readiness, POST
 * AIP_PREDICT_ROUTE its TF-Serving predict route, whose row format is Vertex's own:
 * `{"instances": [...]}` → `{"predictions": [...]}`, one prediction per instance. The model is
 * the one AIP_STORAGE_URI holds (or SERVED_MODEL among several).
 */
export function vertexContract(context: ContractContext): ContainerContract {
  const { liveRoute, predictRoute } = context.settings;
  return (request) => {
    if (request.path === liveRoute && request.method === 'GET') {
      return { request: coreRequest(request, 'vertex', 'GET', '/v2/health/ready') };
    }
    if (request.path !== predictRoute) return undefined;
    const model = defaultModel(context, 'SERVED_MODEL');
    return {
      request: coreRequest(
        request,
        'vertex',
        request.method,
        `/v1/models/${encodeURIComponent(model)}:predict`,
      ),
    };
  };
}
