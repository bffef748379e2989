/**
 * MLflow scoring server payloads (`POST /invocations`): `dataframe_split`, `dataframe_records`,
 * `instances` and `inputs`, plus optional `params`. They become the same validated `InferCall` an
 * OIP request does; the response is MLflow's `{"predictions": ...}`.
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
  singleInput,
} from './tabular';

export const MLFLOW_FORMATS = ['dataframe_split', 'dataframe_records', 'instances', 'inputs'] as const;
const ALLOWED_KEYS = new Set<string>([...MLFLOW_FORMATS, 'params']);

/** Which model (and pinned version) an `/invocations` request is for: `?model=`/`?version=` or headers. */
export function mlflowModelOf(
  query: Readonly<Record<string, string>>,
  headers: Readonly<Record<string, string>>,
): { model: string; version?: string } {
  const model = query['model'] ?? headers['x-model-name'];
  if (model === undefined || model === '') {
    throw new BadRequestError(
      'model: name the model with the ?model=NAME query parameter or the x-model-name header',
    );
  }
  const version = query['version'] ?? headers['x-model-version'];
  return version === undefined || version === '' ? { model } : { model, version };
}

export function parseMlflowRequest(body: unknown, model: ModelSignature, limits: Limits): InferCall {
  if (!isPlainObject(body)) {
    throw new BadRequestError(
      `request body: expected a JSON object with one of ${MLFLOW_FORMATS.join(', ')}, got ${typeName(body)}`,
    );
  }
  const unknown = Object.keys(body).filter((key) => !ALLOWED_KEYS.has(key));
  if (unknown.length > 0) {
    throw new BadRequestError(
      `request body: unknown field "${unknown[0]}"; MLflow scoring takes one of ${MLFLOW_FORMATS.join(', ')} (and optional params)`,
    );
  }
  const given = MLFLOW_FORMATS.filter((key) => key in body);
  if (given.length !== 1) {
    throw new BadRequestError(
      `request body: expected exactly one of ${MLFLOW_FORMATS.join(', ')}, got ${given.length === 0 ? 'none' : given.join(' and ')}`,
    );
  }
  const params = body['params'];
  if (params !== undefined && !isPlainObject(params)) {
    throw new BadRequestError(`params: expected an object, got ${typeName(params)}`);
  }
  const format = given[0] as (typeof MLFLOW_FORMATS)[number];
  const value = body[format];
  return { inputs: parseInputs(format, value, model, limits), outputs: [...model.outputs.keys()] };
}

function parseInputs(
  format: (typeof MLFLOW_FORMATS)[number],
  value: unknown,
  model: ModelSignature,
  limits: Limits,
): Map<string, InferInput> {
  switch (format) {
    case 'dataframe_split':
      return parseSplit(value, model, limits);
    case 'dataframe_records': {
      if (!Array.isArray(value)) {
        throw new BadRequestError(
          `dataframe_records: expected an array of row objects, got ${typeName(value)}`,
        );
      }
      if (value.length === 0) throw new BadRequestError('dataframe_records: no rows');
      const { columns, rows } = columnsFromRecords(value, format);
      return inputsFromColumns(columns, rows, model, limits, format);
    }
    case 'instances': {
      if (!Array.isArray(value)) {
        throw new BadRequestError(`instances: expected an array (one entry per row), got ${typeName(value)}`);
      }
      if (value.length === 0) throw new BadRequestError('instances: no rows');
      if (isPlainObject(value[0])) {
        const { columns, rows } = columnsFromRecords(value, format);
        return inputsFromColumns(columns, rows, model, limits, format);
      }
      return singleInput(model, value, format, limits, 'send an object naming each');
    }
    case 'inputs':
      if (isPlainObject(value)) return inputsFromNamed(value, model, limits, format);
      return singleInput(model, value, format, limits, 'send an object naming each');
  }
}

function parseSplit(value: unknown, model: ModelSignature, limits: Limits): Map<string, InferInput> {
  const where = 'dataframe_split';
  if (!isPlainObject(value)) {
    throw new BadRequestError(
      `${where}: expected an object with "columns" and "data", got ${typeName(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (key !== 'columns' && key !== 'data' && key !== 'index') {
      throw new BadRequestError(`${where}.${key}: unknown field; expected columns, data and optional index`);
    }
  }
  const data = value['data'];
  if (!Array.isArray(data)) {
    throw new BadRequestError(
      `${where}.data: expected an array of rows, got ${data === undefined ? 'nothing' : typeName(data)}`,
    );
  }
  if (data.length === 0) throw new BadRequestError(`${where}.data: no rows`);
  const rawColumns = value['columns'] ?? model.features ?? [...model.inputs.keys()];
  if (!Array.isArray(rawColumns) || rawColumns.some((column) => typeof column !== 'string')) {
    throw new BadRequestError(`${where}.columns: expected an array of column names`);
  }
  const names = rawColumns as string[];
  // A Set, not indexOf per name: a client controls the count (100,000 columns took 4.6 s).
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name)) throw new BadRequestError(`${where}.columns: "${name.slice(0, 100)}" appears twice`);
    seen.add(name);
  }
  const columns = new Map<string, unknown[]>(names.map((name) => [name, new Array<unknown>(data.length)]));
  data.forEach((row: unknown, index) => {
    if (!Array.isArray(row) || row.length !== names.length) {
      throw new BadRequestError(
        `${where}.data[${index}]: expected an array of ${names.length} values (one per column), got ${Array.isArray(row) ? `${row.length} values` : typeName(row)}`,
      );
    }
    names.forEach((name, column) => {
      const cells = columns.get(name);
      if (cells !== undefined) cells[index] = row[column];
    });
  });
  return inputsFromColumns(columns, data.length, model, limits, where);
}

/** MLflow's response: one output as a nested array, several as an object of them by name. */
export function mlflowResponse(outputs: readonly OutputTensor[]): { predictions: unknown } {
  const [only] = outputs;
  if (outputs.length === 1 && only !== undefined) return { predictions: nest(only) };
  return { predictions: Object.fromEntries(outputs.map((output) => [output.name, nest(output)])) };
}
