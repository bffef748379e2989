/**
 * Shared by the MLflow and TF-Serving payload parsers: named columns and nested arrays become the
 * same validated model inputs an OIP request produces. Two tabular layouts are understood:
 * - the manifest lists `features` and the model has one input: the columns are those features and
 *   become that input's last axis, in manifest order ([N, k]);
 * - the column names are the model's input names: each column becomes its input ([N] or [N, 1]
 *   for scalar cells, [N, ...] for array cells), each with its own datatype (mixed FP32/INT64).
 */
import { BadRequestError } from '../errors';
import { NumericData } from '../tensor/numeric-data';
import {
  checkShape,
  decodeTensorData,
  elementCount,
  formatShape,
  type TensorSpec,
  typeName,
} from '../tensor/tensor';
import type { InferInput, ModelSignature, OutputTensor } from '../tensor/types';
import type { Limits } from './oip';

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Model inputs from columns of `rows` cells each. `where` prefixes every error message. */
export function inputsFromColumns(
  columns: ReadonlyMap<string, readonly unknown[]>,
  rows: number,
  model: ModelSignature,
  limits: Limits,
  where: string,
): Map<string, InferInput> {
  if (rows === 0) throw new BadRequestError(`${where}: no rows`);
  const names = [...columns.keys()];
  const inputs = new Map<string, InferInput>();
  if (names.every((name) => model.inputs.has(name))) {
    const missing = [...model.inputs.keys()].filter((name) => !columns.has(name));
    if (missing.length > 0) {
      throw new BadRequestError(
        `${where}: missing column ${quoteList(missing)}; model "${model.name}" takes ${describeInputs(model)}`,
      );
    }
    for (const [name, spec] of model.inputs) {
      inputs.set(name, tensorFromCells(spec, columns.get(name) ?? [], rows, `${where}["${name}"]`, limits));
    }
    return inputs;
  }
  const features = model.features;
  const [single] = model.inputs.values();
  if (features === undefined || model.inputs.size !== 1 || single === undefined) {
    const unknown = names.filter((name) => !model.inputs.has(name));
    throw new BadRequestError(
      `${where}: unknown column ${quoteList(unknown)}; model "${model.name}" takes ${describeInputs(model)}`,
    );
  }
  const featureSet = new Set(features);
  const unknown = names.filter((name) => !featureSet.has(name));
  if (unknown.length > 0) {
    throw new BadRequestError(
      `${where}: unknown column ${quoteList(unknown)}; model "${model.name}" takes the columns ${features.join(', ')}`,
    );
  }
  const missing = features.filter((name) => !columns.has(name));
  if (missing.length > 0) {
    throw new BadRequestError(
      `${where}: missing column ${quoteList(missing)}; model "${model.name}" takes the columns ${features.join(', ')}`,
    );
  }
  const width = features.length;
  const shape = [rows, width];
  checkLimit(shape, where, limits);
  checkShape(single, shape, where);
  const flat = new Array<unknown>(rows * width);
  features.forEach((feature, column) => {
    const cells = columns.get(feature) ?? [];
    for (let row = 0; row < rows; row++) {
      const cell = cells[row];
      if (Array.isArray(cell) || isPlainObject(cell)) {
        throw new BadRequestError(
          `${where}["${feature}"][${row}]: expected a single value, got ${typeName(cell)}`,
        );
      }
      flat[row * width + column] = cell;
    }
  });
  inputs.set(single.name, {
    name: single.name,
    shape,
    data: decodeTensorData(single.datatype, shape, flat, where),
  });
  return inputs;
}

/**
 * The model's single input from rows of numbers already laid out row-major in the order of the
 * manifest's `features` (a batch read straight from CSV), or undefined when the model does not
 * take its columns that way. The checks are inputsFromColumns' for the same columns.
 */
export function inputsFromFeatureRows(
  values: Float64Array,
  rows: number,
  model: ModelSignature,
  limits: Limits,
  where: string,
): Map<string, InferInput> | undefined {
  const features = model.features;
  const [single] = model.inputs.values();
  if (features === undefined || model.inputs.size !== 1 || single === undefined) return undefined;
  // inputsFromColumns reads columns named like the model's inputs as those inputs first.
  if (features.every((name) => model.inputs.has(name))) return undefined;
  if (rows === 0) throw new BadRequestError(`${where}: no rows`);
  const shape = [rows, features.length];
  checkLimit(shape, where, limits);
  checkShape(single, shape, where);
  const data = decodeTensorData(single.datatype, shape, NumericData.ofExact(values, [values.length]), where);
  return new Map([[single.name, { name: single.name, shape, data }]]);
}

/** One input from its column: scalar cells give [N] (or [N, 1] when the model wants that). */
function tensorFromCells(
  spec: TensorSpec,
  cells: readonly unknown[],
  rows: number,
  where: string,
  limits: Limits,
): InferInput {
  if (cells.length !== rows) {
    throw new BadRequestError(`${where}: expected ${rows} values (one per row), got ${cells.length}`);
  }
  const first = cells[0];
  let shape = [rows, ...(Array.isArray(first) ? nestedShape(first) : [])];
  shape = fitTrailingOnes(spec, shape);
  checkLimit(shape, where, limits);
  checkShape(spec, shape, where);
  return { name: spec.name, shape, data: decodeTensorData(spec.datatype, shape, cells, where) };
}

/** One input from a nested array whose first axis is the batch. */
export function tensorFromNested(
  spec: TensorSpec,
  value: unknown,
  where: string,
  limits: Limits,
): InferInput {
  if (!Array.isArray(value)) {
    throw new BadRequestError(`${where}: expected an array (one entry per row), got ${typeName(value)}`);
  }
  if (value.length === 0) throw new BadRequestError(`${where}: no rows`);
  const shape = fitTrailingOnes(spec, nestedShape(value));
  checkLimit(shape, where, limits);
  checkShape(spec, shape, where);
  return { name: spec.name, shape, data: decodeTensorData(spec.datatype, shape, value, where) };
}

/**
 * Model inputs from an object of named values: the model's input names (each a nested array with
 * the batch first), or, for a features model, one array of values per feature column.
 */
/** A payload without names is only meaningful for a model with exactly one input. */
export function singleInput(
  model: ModelSignature,
  value: unknown,
  where: string,
  limits: Limits,
  hint: string,
): Map<string, InferInput> {
  const [spec] = model.inputs.values();
  if (model.inputs.size !== 1 || spec === undefined) {
    throw new BadRequestError(
      `${where}: model "${model.name}" has ${model.inputs.size} inputs (${[...model.inputs.keys()].join(', ')}); ${hint}`,
    );
  }
  return new Map([[spec.name, tensorFromNested(spec, value, where, limits)]]);
}

export function inputsFromNamed(
  named: Record<string, unknown>,
  model: ModelSignature,
  limits: Limits,
  where: string,
): Map<string, InferInput> {
  const names = Object.keys(named);
  if (names.length === 0) throw new BadRequestError(`${where}: expected named inputs, got an empty object`);
  if (names.every((name) => model.inputs.has(name))) {
    const inputs = new Map<string, InferInput>();
    let batch: { name: string; rows: number } | undefined;
    for (const [name, spec] of model.inputs) {
      if (!(name in named)) {
        throw new BadRequestError(
          `${where}: missing input "${name}"; model "${model.name}" takes ${describeInputs(model)}`,
        );
      }
      const input = tensorFromNested(spec, named[name], `${where}["${name}"]`, limits);
      // Inputs that all have a batch axis are rows of one table: differing lengths are a client error.
      const rows = spec.shape[0] === -1 ? input.shape[0] : undefined;
      if (rows !== undefined && batch !== undefined && rows !== batch.rows) {
        throw new BadRequestError(
          `${where}["${name}"]: has ${rows} values, but "${batch.name}" has ${batch.rows}; columns must be the same length`,
        );
      }
      if (rows !== undefined) batch ??= { name, rows };
      inputs.set(name, input);
    }
    return inputs;
  }
  const columns = new Map<string, unknown[]>();
  let rows: number | undefined;
  for (const name of names) {
    const value = named[name];
    if (!Array.isArray(value)) {
      throw new BadRequestError(`${where}["${name}"]: expected an array of values, got ${typeName(value)}`);
    }
    if (rows !== undefined && value.length !== rows) {
      throw new BadRequestError(
        `${where}["${name}"]: has ${value.length} values, but "${names[0]}" has ${rows}; columns must be the same length`,
      );
    }
    rows = value.length;
    columns.set(name, value);
  }
  return inputsFromColumns(columns, rows ?? 0, model, limits, where);
}

/** Columns from rows of objects; every row names the same columns. */
export function columnsFromRecords(
  records: readonly unknown[],
  where: string,
): { columns: Map<string, unknown[]>; rows: number } {
  const first = records[0];
  if (!isPlainObject(first)) throw new BadRequestError(`${where}[0]: expected an object of column values`);
  const names = Object.keys(first);
  if (names.length === 0)
    throw new BadRequestError(`${where}[0]: expected column values, got an empty object`);
  const columns = new Map<string, unknown[]>(names.map((name) => [name, new Array<unknown>(records.length)]));
  records.forEach((record, row) => {
    if (!isPlainObject(record)) {
      throw new BadRequestError(
        `${where}[${row}]: expected an object of column values, got ${typeName(record)}`,
      );
    }
    for (const key of Object.keys(record)) {
      if (!columns.has(key)) {
        throw new BadRequestError(
          `${where}[${row}]: column "${key}" is not in the first row; rows must share columns`,
        );
      }
    }
    for (const [name, cells] of columns) {
      if (!(name in record)) throw new BadRequestError(`${where}[${row}]: missing column "${name}"`);
      cells[row] = record[name];
    }
  });
  return { columns, rows: records.length };
}

/** Output tensors as nested arrays following their shapes ([N] flat, [N, k] one array per row). */
export function nest(tensor: OutputTensor): unknown {
  // MLflow and TF-Serving calls never ask for binary outputs, so data is always there.
  const data = tensor.data ?? [];
  if (tensor.shape.length <= 1) return data;
  const build = (axis: number, offset: number): unknown[] => {
    const size = tensor.shape[axis] ?? 0;
    if (axis === tensor.shape.length - 1) return data.slice(offset, offset + size);
    const stride = elementCount(tensor.shape.slice(axis + 1));
    return Array.from({ length: size }, (_, i) => build(axis + 1, offset + i * stride));
  };
  return build(0, 0);
}

/** Row `row` of an output whose first axis is the batch, nested per the remaining axes. */
export function rowOf(tensor: OutputTensor, row: number): unknown {
  const rest = tensor.shape.slice(1);
  const size = elementCount(rest);
  const slice = (tensor.data ?? []).slice(row * size, (row + 1) * size);
  if (rest.length === 0) return slice[0];
  return nest({ ...tensor, shape: rest, data: slice });
}

function nestedShape(value: unknown): number[] {
  const shape: number[] = [];
  let node = value;
  while (Array.isArray(node)) {
    shape.push(node.length);
    node = node[0];
  }
  return shape;
}

/** Columnar clients send [N] for an input declared [N, 1]: add the unit axes the model expects. */
function fitTrailingOnes(spec: TensorSpec, shape: number[]): number[] {
  if (spec.shape.length <= shape.length) return shape;
  const extra = spec.shape.slice(shape.length);
  return extra.every((dim) => dim === 1) ? [...shape, ...extra] : shape;
}

function checkLimit(shape: readonly number[], where: string, limits: Limits): void {
  if (elementCount(shape) > limits.maxTensorElements) {
    throw new BadRequestError(
      `${where}: ${formatShape(shape)} has ${elementCount(shape)} elements, more than the limit of ${limits.maxTensorElements}`,
    );
  }
}

/** The first few names: a client can send 100,000 unknown columns, the message stays short. */
function quoteList(names: readonly string[]): string {
  const shown = names.slice(0, 5).map((name) => `"${name.length > 60 ? `${name.slice(0, 60)}…` : name}"`);
  return names.length > 5 ? `${shown.join(', ')} and ${names.length - 5} more` : shown.join(', ');
}

function describeInputs(model: ModelSignature): string {
  const inputs = [...model.inputs.values()].map(
    (spec) => `${spec.name} (${spec.datatype} ${formatShape(spec.shape)})`,
  );
  const features = model.features;
  return `${inputs.join(', ')}${features === undefined ? '' : `; or the columns ${features.join(', ')}`}`;
}
