import type { Target } from '../serving/dataplane';
import type { OutputTensor } from '../serving/inference';
import type { LoadedModel } from '../serving/model-cache';
import { mlflowResponse, parseMlflowRequest } from './mlflow';
import { type InferCall, type Limits, parseInferRequest } from './oip';
import { isPlainObject } from './tabular';
import { parseTfServingRequest, tfServingLayout, tfServingResponse } from './tfserving';

export interface InferResult {
  model: LoadedModel;
  target: Target;
  call: InferCall;
  outputs: OutputTensor[];
  requestId: string;
}

/**
 * One request/response format on top of the same core call. `parse` must be pure in the body so
 * the shadow can parse the same body against its own model's signature.
 */
export interface PayloadFormat {
  name: 'oip' | 'mlflow' | 'tfserving';
  parse(body: unknown, model: LoadedModel, limits: Limits): InferCall;
  respond(body: unknown, result: InferResult): unknown;
}

/** What names the model, version and variant in the body of the non-OIP formats. */
function identity(result: InferResult) {
  return {
    model_name: result.model.name,
    model_version: String(result.model.version),
    id: result.requestId,
    parameters: { variant: result.target.variant },
  };
}

export const OIP: PayloadFormat = {
  name: 'oip',
  parse: parseInferRequest,
  respond: (_body, result) => ({
    model_name: result.model.name,
    model_version: String(result.model.version),
    id: result.call.id ?? result.requestId,
    parameters: { variant: result.target.variant },
    outputs: result.outputs,
  }),
};

export const MLFLOW: PayloadFormat = {
  name: 'mlflow',
  parse: parseMlflowRequest,
  respond: (_body, result) => ({ ...mlflowResponse(result.outputs), ...identity(result) }),
};

export const TF_SERVING: PayloadFormat = {
  name: 'tfserving',
  parse: parseTfServingRequest,
  respond: (body, result) => ({
    ...tfServingResponse(tfServingLayout(isPlainObject(body) ? body : {}), result.outputs),
    ...identity(result),
  }),
};
