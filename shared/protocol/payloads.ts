import type { ServeRequest, ServeResponse } from '../http/request';
import { jsonResponse } from '../http/request';
import { type BodyLimits, parseJsonBody } from '../security/body';
import type { InferCall, ModelSignature, OutputTensor } from '../tensor/types';
import type { Target } from '../traffic/variant-pick';
import { INFERENCE_HEADER, inferResponse, parseBinaryBody } from './binary';
import { mlflowResponse, parseMlflowRequest } from './mlflow';
import { type Limits, parseInferRequest } from './oip';
import { parseOipBody } from './oip-fast';
import { isPlainObject } from './tabular';
import { parseTfServingRequest, tfServingLayout, tfServingResponse } from './tfserving';

export interface InferResult {
  model: ModelSignature;
  target: Target;
  call: InferCall;
  outputs: OutputTensor[];
  requestId: string;
}

export type PayloadLimits = BodyLimits & Limits;

/**
 * One request/response format on top of the same core call: how the body is read, how it becomes
 * a call against a model's signature, and how the outputs become the response. `parse` must be
 * pure in the body so the shadow can parse the same body against its own model's signature.
 */
export interface PayloadFormat {
  name: 'oip' | 'mlflow' | 'tfserving';
  read(request: ServeRequest, limits: BodyLimits): unknown;
  parse(body: unknown, model: ModelSignature, limits: Limits): InferCall;
  respond(body: unknown, result: InferResult, headers: Record<string, string>): ServeResponse;
}

/** Every model response names what served it, in headers as well as in the body. */
export function modelHeaders(model: string, target: Target): Record<string, string> {
  return {
    'x-model-name': model,
    'x-model-version': String(target.version),
    'x-model-variant': target.variant,
  };
}

/** An OIP infer response body (the edge module returns it as is; HTTP adds binary outputs). */
export function oipResponseBody(result: InferResult) {
  return {
    model_name: result.model.name,
    model_version: String(result.model.version),
    id: result.call.id ?? result.requestId,
    parameters: { variant: result.target.variant },
    outputs: result.outputs,
  };
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
  // The binary tensor extension when its length header is present, else JSON read fast.
  read: (request, limits) =>
    request.headers[INFERENCE_HEADER] === undefined
      ? parseJsonBody(request, limits, parseOipBody)
      : parseBinaryBody(request, limits),
  parse: parseInferRequest,
  // OIP outputs may be asked for as binary tensors; the other formats are always JSON.
  respond: (_body, result, headers) => inferResponse(oipResponseBody(result), headers),
};

export const MLFLOW: PayloadFormat = {
  name: 'mlflow',
  read: (request, limits) => parseJsonBody(request, limits),
  parse: parseMlflowRequest,
  respond: (_body, result, headers) =>
    jsonResponse(200, { ...mlflowResponse(result.outputs), ...identity(result) }, headers),
};

export const TF_SERVING: PayloadFormat = {
  name: 'tfserving',
  read: (request, limits) => parseJsonBody(request, limits),
  parse: parseTfServingRequest,
  respond: (body, result, headers) =>
    jsonResponse(
      200,
      {
        ...tfServingResponse(tfServingLayout(isPlainObject(body) ? body : {}), result.outputs),
        ...identity(result),
      },
      headers,
    ),
};
