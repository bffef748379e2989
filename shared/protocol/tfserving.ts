/**
 * TensorFlow Serving REST predict payloads (`POST /v1/models/{m}[/versions/{v}]:predict`): the row
 * format (`instances`) answers `{"predictions": [...]}`, the columnar format (`inputs`) answers
 * `{"outputs": ...}`, as TF-Serving does. Both become the same validated `InferCall` as OIP.
 */
import { BadRequestError } from '../errors';
import { typeName } from '../tensor/tensor';
import type { InferCall, InferInput, ModelSignature, OutputTensor } from '../tensor/types';
import type { Limits } from './oip';
import {
  columnsFromRecords,
  inputsFromColumns,
  inputsFromNamed,
  isPlainObject,
  nest,
  rowOf,
  singleInput,
} from './tabular';

const DEFAULT_SIGNATURE = 'serving_default';

export type TfServingLayout = 'row' | 'columnar';

export function parseTfServingRequest(body: unknown, model: ModelSignature, limits: Limits): InferCall {
  if (!isPlainObject(body)) {
    throw new BadRequestError(
      `request body: expected a JSON object with "instances" or "inputs", got ${typeName(body)}`,
    );
  }
  for (const key of Object.keys(body)) {
    if (key !== 'instances' && key !== 'inputs' && key !== 'signature_name') {
      throw new BadRequestError(
        `request body: unknown field "${key}"; expected instances or inputs (and signature_name)`,
      );
    }
  }
  const signature = body['signature_name'];
  if (signature !== undefined && signature !== DEFAULT_SIGNATURE) {
    throw new BadRequestError(
      `signature_name: model "${model.name}" has only the "${DEFAULT_SIGNATURE}" signature, got ${JSON.stringify(signature)}`,
    );
  }
  const layout = tfServingLayout(body);
  const inputs =
    layout === 'row'
      ? parseInstances(body['instances'], model, limits)
      : parseColumnar(body['inputs'], model, limits);
  return { inputs, outputs: [...model.outputs.keys()] };
}

/** Which layout a (parsed) body uses; throws unless it has exactly one of instances and inputs. */
export function tfServingLayout(body: Record<string, unknown>): TfServingLayout {
  const hasRows = 'instances' in body;
  const hasColumns = 'inputs' in body;
  if (hasRows === hasColumns) {
    throw new BadRequestError(
      `request body: expected exactly one of "instances" (row format) or "inputs" (columnar format), got ${hasRows ? 'both' : 'neither'}`,
    );
  }
  return hasRows ? 'row' : 'columnar';
}

function parseInstances(value: unknown, model: ModelSignature, limits: Limits): Map<string, InferInput> {
  if (!Array.isArray(value)) {
    throw new BadRequestError(`instances: expected an array (one entry per row), got ${typeName(value)}`);
  }
  if (value.length === 0) throw new BadRequestError('instances: no rows');
  if (isPlainObject(value[0])) {
    const { columns, rows } = columnsFromRecords(value, 'instances');
    return inputsFromColumns(columns, rows, model, limits, 'instances');
  }
  return singleInput(model, value, 'instances', limits, 'name each (objects keyed by input name)');
}

function parseColumnar(value: unknown, model: ModelSignature, limits: Limits): Map<string, InferInput> {
  if (isPlainObject(value)) return inputsFromNamed(value, model, limits, 'inputs');
  return singleInput(model, value, 'inputs', limits, 'name each (objects keyed by input name)');
}

/**
 * TF-Serving's response shapes. Row format: one entry per row, the output's value for a single
 * output, an object by output name for several. Columnar: the output, or an object of them.
 */
export function tfServingResponse(
  layout: TfServingLayout,
  outputs: readonly OutputTensor[],
): Record<string, unknown> {
  const [only] = outputs;
  if (layout === 'columnar') {
    if (outputs.length === 1 && only !== undefined) return { outputs: nest(only) };
    return { outputs: Object.fromEntries(outputs.map((output) => [output.name, nest(output)])) };
  }
  if (outputs.length === 1 && only !== undefined) {
    return { predictions: only.shape.length === 0 ? only.data : nest(only) };
  }
  const rows = outputs[0]?.shape[0] ?? 0;
  return {
    predictions: Array.from({ length: rows }, (_, row) =>
      Object.fromEntries(outputs.map((output) => [output.name, rowOf(output, row)])),
    ),
  };
}
