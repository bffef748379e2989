/**
 * What one input line is, decided by the existing protocol parsers' shapes: a flat row of columns
 * (a CSV record, or a JSON object of feature / input values), or a whole request per line (an OIP
 * request, a TF-Serving or MLflow body) parsed by that protocol's own parser.
 */
import { BadRequestError } from '../errors';
import { MLFLOW_FORMATS } from '../protocol/mlflow';
import { MLFLOW, OIP, type PayloadFormat, TF_SERVING } from '../protocol/payloads';
import { isPlainObject } from '../protocol/tabular';
import { typeName } from '../tensor/tensor';
import { CsvRowError, cellValue, parseCsvLine } from './csv';
import type { BatchFormat } from './job';

export type BatchRow =
  | { kind: 'columns'; names: readonly string[]; cells: unknown[] }
  | { kind: 'request'; format: PayloadFormat; body: unknown };

/** A line as a row, or the error that makes it one the model cannot score. */
export function decodeLine(
  text: string,
  format: BatchFormat,
  header: readonly string[] | undefined,
): BatchRow {
  if (format === 'csv') {
    const names = header ?? [];
    let cells: string[];
    try {
      cells = parseCsvLine(text);
    } catch (err) {
      if (err instanceof CsvRowError) throw new BadRequestError(`CSV: ${err.message}`);
      throw err;
    }
    if (cells.length !== names.length) {
      throw new BadRequestError(`CSV: ${cells.length} cells, the header names ${names.length} columns`);
    }
    return { kind: 'columns', names, cells: cells.map(cellValue) };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`not JSON: ${(err as Error).message}`);
  }
  if (!isPlainObject(value)) throw new BadRequestError(`expected a JSON object, got ${typeName(value)}`);
  const request = requestFormat(value);
  if (request !== undefined) return { kind: 'request', format: request, body: value };
  const names = Object.keys(value);
  if (names.length === 0) throw new BadRequestError('expected column values, got an empty object');
  return { kind: 'columns', names, cells: names.map((name) => value[name]) };
}

/** `decodeLine`, with a line the model cannot score as its error (other failures still throw). */
export function decodeRow(
  text: string,
  format: BatchFormat,
  header: readonly string[] | undefined,
): BatchRow | Error {
  try {
    return decodeLine(text, format, header);
  } catch (err) {
    if (err instanceof BadRequestError) return err;
    throw err;
  }
}

/** OIP: `inputs` is an array of tensors; TF-Serving: `instances` or `inputs`; MLflow: its keys. */
function requestFormat(body: Record<string, unknown>): PayloadFormat | undefined {
  const inputs = body['inputs'];
  if (
    Array.isArray(inputs) &&
    inputs.length > 0 &&
    inputs.every((tensor) => isPlainObject(tensor) && 'datatype' in tensor)
  ) {
    return OIP;
  }
  if (MLFLOW_FORMATS.some((key) => key !== 'instances' && key !== 'inputs' && key in body)) return MLFLOW;
  if ('instances' in body || 'inputs' in body) return TF_SERVING;
  return undefined;
}
