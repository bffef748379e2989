/**
 * Scores rows in one `session.run` per group of rows: flat rows become columns for the tabular
 * parser (`inputsFromColumns`, the manifest's `features` or the input names), request lines are
 * parsed by their own protocol and joined along the batch axis. Only when a batch fails are its
 * rows taken one by one, so that each bad row gets its own error and the good ones still run.
 */
import { BadRequestError } from '../errors';
import type { Limits } from '../protocol/oip';
import { inputsFromColumns, inputsFromFeatureRows, nest, rowOf } from '../protocol/tabular';
import { type InferenceEngine, inlineEngine } from '../serving/engine';
import type { LoadedModel } from '../serving/loaded-model';
import { concatTensorData } from '../tensor/concat';
import type { InferCall, InferInput, OutputTensor } from '../tensor/types';
import type { BatchRow } from './rows';

/** One output line (JSON text), or why the row could not be scored. */
export type RowOutcome = string | { error: string };

export async function scoreRows(
  model: LoadedModel,
  rows: readonly (BatchRow | Error)[],
  limits: Limits,
  engine: InferenceEngine = inlineEngine,
): Promise<RowOutcome[]> {
  const outcomes = new Array<RowOutcome>(rows.length);
  const columns: number[] = [];
  const requests: number[] = [];
  rows.forEach((row, index) => {
    if (row instanceof Error) outcomes[index] = { error: messageOf(row) };
    else (row.kind === 'columns' ? columns : requests).push(index);
  });
  const prepare = (indexes: readonly number[]) =>
    callOf(
      model,
      indexes.map((i) => rows[i] as BatchRow),
      limits,
    );
  const score = (indexes: readonly number[]) => scoreGroup(model, engine, indexes, prepare, outcomes);
  for (const group of groupByNames(columns, rows)) await score(group);
  if (requests.length > 0) await score(requests);
  return outcomes;
}

/** Columns rows with the same column names in the same order can share one tensor. */
function groupByNames(indexes: readonly number[], rows: readonly (BatchRow | Error)[]): number[][] {
  const groups = new Map<string, number[]>();
  // CSV rows share their header's array: join it once per array, not once per row.
  let lastNames: readonly string[] | undefined;
  let lastKey = '';
  for (const index of indexes) {
    const row = rows[index] as Extract<BatchRow, { kind: 'columns' }>;
    if (row.names !== lastNames) {
      lastNames = row.names;
      lastKey = row.names.join('\u0000');
    }
    const group = groups.get(lastKey);
    if (group === undefined) groups.set(lastKey, [index]);
    else group.push(index);
  }
  return [...groups.values()];
}

interface PreparedCall {
  call: InferCall;
  /** Rows of the batch each input row spans (one per flat row; a request's own batch size). */
  spans: number[];
  /** Output names each row asked for (a request may name a subset). */
  wanted: (readonly string[] | undefined)[];
  shape: 'row' | 'batch';
}

async function scoreGroup(
  model: LoadedModel,
  engine: InferenceEngine,
  indexes: readonly number[],
  prepare: (indexes: readonly number[]) => PreparedCall,
  outcomes: RowOutcome[],
): Promise<void> {
  try {
    const lines = await linesOf(model, prepare(indexes), engine);
    indexes.forEach((index, i) => {
      outcomes[index] = lines[i] as string;
    });
  } catch (err) {
    if (!(err instanceof BadRequestError) || indexes.length === 1) {
      if (indexes.length === 1 && err instanceof BadRequestError) {
        outcomes[indexes[0] as number] = { error: messageOf(err) };
        return;
      }
      throw err;
    }
    // One bad row spoils its batch: find it (and any other) by scoring each row alone.
    for (const index of indexes) await scoreGroup(model, engine, [index], prepare, outcomes);
  }
}

function callOf(model: LoadedModel, rows: readonly BatchRow[], limits: Limits): PreparedCall {
  const outputs = [...model.outputs.keys()];
  const first = rows[0];
  if (first?.kind === 'columns') {
    const columns = new Map<string, unknown[]>();
    first.names.forEach((name, j) => {
      columns.set(
        name,
        rows.map((row) => (row as Extract<BatchRow, { kind: 'columns' }>).cells[j]),
      );
    });
    try {
      return columnsCall(model, columns, rows.length, limits);
    } catch (err) {
      throw rows.length === 1 ? (cellProblem(first, model) ?? err) : err;
    }
  }
  const calls = rows.map((row) => {
    const request = row as Extract<BatchRow, { kind: 'request' }>;
    return request.format.parse(request.body, model, limits);
  });
  return {
    call: { inputs: joinInputs(calls), outputs },
    spans: calls.map((call) => call.inputs.values().next().value?.shape[0] ?? 1),
    wanted: calls.map((call) => call.outputs),
    shape: 'batch',
  };
}

function columnsCall(
  model: LoadedModel,
  columns: ReadonlyMap<string, readonly unknown[]>,
  rows: number,
  limits: Limits,
): PreparedCall {
  return rowsCall(model, inputsFromColumns(columns, rows, model, limits, rows === 1 ? 'row' : 'rows'), rows);
}

/** A call whose inputs hold `rows` flat rows, one output line each. */
function rowsCall(model: LoadedModel, inputs: Map<string, InferInput>, rows: number): PreparedCall {
  const spans = new Array<number>(rows).fill(1);
  return { call: { inputs, outputs: [...model.outputs.keys()] }, spans, wanted: [], shape: 'row' };
}

async function linesOf(
  model: LoadedModel,
  prepared: PreparedCall,
  engine: InferenceEngine,
): Promise<string[]> {
  const { outputs } = await engine.run(model, prepared.call);
  return splitOutputs(outputs, prepared);
}

/**
 * One output line per row of numbers laid out in the manifest's feature order (CSV read straight
 * into them), or undefined when the model does not take feature rows (see scoreColumns).
 */
export async function scoreFeatureRows(
  model: LoadedModel,
  values: Float64Array,
  rows: number,
  limits: Limits,
  engine: InferenceEngine = inlineEngine,
): Promise<string[] | undefined> {
  const inputs = inputsFromFeatureRows(values, rows, model, limits, rows === 1 ? 'row' : 'rows');
  return inputs === undefined ? undefined : linesOf(model, rowsCall(model, inputs, rows), engine);
}

/**
 * One output line per row of ready-made columns (a CSV batch decoded straight into them): one
 * run, no per-row objects. A BadRequestError means some row is bad; the caller finds which.
 */
export async function scoreColumns(
  model: LoadedModel,
  columns: ReadonlyMap<string, readonly unknown[]>,
  rows: number,
  limits: Limits,
  engine: InferenceEngine = inlineEngine,
): Promise<string[]> {
  return linesOf(model, columnsCall(model, columns, rows, limits), engine);
}

/**
 * For one row the parser's message names a tensor element; a row's reader wants the column. An
 * empty or non-numeric cell for a model whose inputs are all numeric is named as such.
 */
function cellProblem(
  row: Extract<BatchRow, { kind: 'columns' }>,
  model: LoadedModel,
): BadRequestError | undefined {
  if ([...model.inputs.values()].some((spec) => spec.datatype === 'BYTES' || spec.datatype === 'BOOL'))
    return undefined;
  const index = row.cells.findIndex((cell) => cell === null || typeof cell === 'string');
  const name = row.names[index];
  if (name === undefined) return undefined;
  const cell = row.cells[index];
  return new BadRequestError(
    `column "${name}": expected a number, got ${cell === null ? 'an empty cell' : JSON.stringify(cell)}`,
  );
}

/** Inputs of several calls joined along the first (batch) axis; their other axes must agree. */
function joinInputs(calls: readonly InferCall[]): Map<string, InferInput> {
  const [first, ...rest] = calls;
  if (first === undefined) throw new BadRequestError('no rows');
  if (rest.length === 0) return first.inputs;
  const joined = new Map<string, InferInput>();
  for (const [name, input] of first.inputs) {
    const parts = calls.map((call) => call.inputs.get(name) as InferInput);
    const inner = input.shape.slice(1).join('x');
    if (parts.some((part) => part.shape.slice(1).join('x') !== inner)) {
      throw new BadRequestError(`inputs: "${name}" has different shapes in these rows`);
    }
    const rows = parts.reduce((sum, part) => sum + (part.shape[0] ?? 1), 0);
    joined.set(name, {
      name,
      shape: [rows, ...input.shape.slice(1)],
      data: concatTensorData(parts.map((p) => p.data)),
    });
  }
  return joined;
}

/** One JSON line per input row: flat rows get each output's row, requests their own batch. */
function splitOutputs(outputs: readonly OutputTensor[], prepared: PreparedCall): string[] {
  const lines: string[] = [];
  if (prepared.shape === 'row') {
    const write = rowLineWriter(outputs);
    if (write !== undefined) {
      for (let row = 0; row < prepared.spans.length; row++) lines.push(write(row));
      return lines;
    }
  }
  let row = 0;
  // Per output, once per batch: how to cut one row out (the common [N] and [N, k] cases directly).
  const readers = outputs.map((tensor) => ({ tensor, read: rowReader(tensor) }));
  prepared.spans.forEach((span, i) => {
    const wanted = prepared.wanted[i];
    const record: Record<string, unknown> = {};
    for (const { tensor, read } of readers) {
      if (wanted !== undefined && !wanted.includes(tensor.name)) continue;
      record[tensor.name] = prepared.shape === 'row' ? read(row) : rowsOf(tensor, row, span);
    }
    lines.push(JSON.stringify(record));
    row += span;
  });
  return lines;
}

/**
 * The text JSON.stringify gives for one row's record, written without the record: [N] and [N, k]
 * outputs of numbers, strings and booleans, under names JSON.stringify keeps in insertion order.
 * Anything else (undefined for another layout or value) takes the general path.
 */
export function rowLineWriter(outputs: readonly OutputTensor[]): ((row: number) => string) | undefined {
  const parts: { key: string; data: unknown[]; flat: boolean; width: number }[] = [];
  const names = new Set<string>();
  for (const { data, shape, name } of outputs) {
    if (data === undefined || shape.length > 2 || !keepsOrder(name) || names.has(name)) return undefined;
    names.add(name);
    const flat = shape.length === 1;
    const width = flat ? 1 : (shape[1] ?? 0);
    if (data.length !== (shape[0] ?? 0) * width || !data.every(isJsonScalar)) return undefined;
    parts.push({ key: `${parts.length === 0 ? '{' : ','}${JSON.stringify(name)}:`, data, flat, width });
  }
  if (parts.length === 0) return undefined;
  return (row) => {
    let line = '';
    for (const { key, data, flat, width } of parts) {
      if (flat) {
        line += key + scalarText(data[row]);
        continue;
      }
      line += `${key}[`;
      for (let i = row * width, end = i + width; i < end; i++) {
        line += i === row * width ? scalarText(data[i]) : `,${scalarText(data[i])}`;
      }
      line += ']';
    }
    return `${line}}`;
  };
}

/** Names JSON.stringify writes where they were added: not array indexes, not `__proto__`. */
function keepsOrder(name: string): boolean {
  return name !== '__proto__' && !/^(0|[1-9]\d*)$/.test(name);
}

function isJsonScalar(value: unknown): boolean {
  const type = typeof value;
  return type === 'number' || type === 'string' || type === 'boolean';
}

/** JSON.stringify of a number, string or boolean (non-finite numbers are null in JSON). */
function scalarText(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? `${value}` : 'null';
  return JSON.stringify(value);
}

/** `rowOf` for one output, with its per-row work for [N] and [N, k] outputs done up front. */
function rowReader(tensor: OutputTensor): (row: number) => unknown {
  const data = tensor.data ?? [];
  if (tensor.shape.length === 1) return (row) => data[row];
  const width = tensor.shape[1] ?? 0;
  if (tensor.shape.length === 2) return (row) => data.slice(row * width, (row + 1) * width);
  return (row) => rowOf(tensor, row);
}

function rowsOf(tensor: OutputTensor, first: number, count: number): unknown {
  const rest = tensor.shape.slice(1);
  const size = rest.reduce((product, dim) => product * dim, 1);
  const data = (tensor.data ?? []).slice(first * size, (first + count) * size);
  return nest({ ...tensor, shape: [count, ...rest], data });
}

function messageOf(err: Error): string {
  return err.message.length > 500 ? `${err.message.slice(0, 500)}…` : err.message;
}
