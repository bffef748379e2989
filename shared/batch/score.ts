/**
 * Scores rows in one `session.run` per group of rows: flat rows become columns for the tabular
 * parser (`inputsFromColumns`, the manifest's `features` or the input names), request lines are
 * parsed by their own protocol and joined along the batch axis. Only when a batch fails are its
 * rows taken one by one, so that each bad row gets its own error and the good ones still run.
 */
import { BadRequestError } from '../errors';
import type { Limits } from '../protocol/oip';
import { inputsFromColumns, nest, rowOf } from '../protocol/tabular';
import { runInference } from '../serving/inference';
import type { LoadedModel } from '../serving/loaded-model';
import { concatTensorData } from '../tensor/concat';
import type { InferCall, InferInput, OutputTensor } from '../tensor/types';
import type { BatchRow } from './rows';

/** One output line (JSON text), or why the row could not be scored. */
export type RowOutcome = { line: string } | { error: string };

export async function scoreRows(
  model: LoadedModel,
  rows: readonly (BatchRow | Error)[],
  limits: Limits,
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
  for (const group of groupByNames(columns, rows)) await scoreGroup(model, group, prepare, outcomes);
  if (requests.length > 0) await scoreGroup(model, requests, prepare, outcomes);
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
  indexes: readonly number[],
  prepare: (indexes: readonly number[]) => PreparedCall,
  outcomes: RowOutcome[],
): Promise<void> {
  try {
    const prepared = prepare(indexes);
    const { outputs } = await runInference(model, prepared.call);
    const lines = splitOutputs(outputs, prepared);
    indexes.forEach((index, i) => {
      outcomes[index] = { line: lines[i] as string };
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
    for (const index of indexes) await scoreGroup(model, [index], prepare, outcomes);
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
    let inputs: Map<string, InferInput>;
    try {
      inputs = inputsFromColumns(columns, rows.length, model, limits, rows.length === 1 ? 'row' : 'rows');
    } catch (err) {
      throw rows.length === 1 ? (cellProblem(first, model) ?? err) : err;
    }
    return { call: { inputs, outputs }, spans: rows.map(() => 1), wanted: [], shape: 'row' };
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
