/**
 * The CSV hot path: lines of plain numeric cells go from their bytes straight into one matrix (in
 * the manifest's feature order when the header names the features), with no object or string per
 * row, and are scored in one run. A cell is taken when it is the number `cellValue` would give; any
 * other line (quotes, empty or text cells, the wrong number of cells) is left to the general path,
 * which gives it its error or its value.
 */
import { BadRequestError } from '../errors';
import type { Limits } from '../protocol/oip';
import { type InferenceEngine, inlineEngine } from '../serving/engine';
import type { LoadedModel } from '../serving/loaded-model';
import type { LineBatch } from './lines';
import { decodeRow } from './rows';
import { type RowOutcome, scoreColumns, scoreFeatureRows, scoreRows } from './score';

export interface NumericRows {
  /** The taken lines' cells, row-major, each row's cells at their `positions`. */
  values: Float64Array;
  /** Lines read into `values`, in order. */
  taken: number[];
  /** Lines for the general path. */
  others: number[];
}

/** Lines of `positions.length` plain numbers into one matrix; cell j of a row goes to positions[j]. */
export function numericRows(lines: LineBatch, positions: readonly number[]): NumericRows {
  const width = positions.length;
  const values = new Float64Array(lines.length * width);
  const taken: number[] = [];
  const others: number[] = [];
  let index = 0;
  for (const { block, from, to } of lines.runs) {
    const { bytes, starts, ends } = block;
    for (let line = from; line < to; line++, index++) {
      // A refused line leaves partial cells in the next free row, which the next line overwrites.
      const row = taken.length * width;
      if (readCells(bytes, starts[line] as number, ends[line] as number, values, row, positions))
        taken.push(index);
      else others.push(index);
    }
  }
  return { values: values.subarray(0, taken.length * width), taken, others };
}

/**
 * Exactly `positions.length` comma-separated numbers of bytes [start, end) into `into` at `row`;
 * false otherwise. A cell of the form -?digits(.digits)? with at most 15 digits is read in the same
 * pass: its digits are an exact integer below 2^53 and 10^k is exact, so one division rounds
 * correctly, to the double `Number` gives. Any other cell is decoded and handed to `Number`, and
 * refused where cellValue would not give a number.
 */
function readCells(
  bytes: Buffer,
  start: number,
  end: number,
  into: Float64Array,
  row: number,
  positions: readonly number[],
): boolean {
  const last = positions.length - 1;
  let i = start;
  for (let column = 0; column <= last; column++) {
    const cellStart = i;
    const negative = bytes[i] === 45;
    if (negative) i++;
    let mantissa = 0;
    let digits = 0;
    let fraction = -1;
    for (; i < end; i++) {
      const c = bytes[i] as number;
      if (c >= 48 && c <= 57) {
        mantissa = mantissa * 10 + (c - 48);
        digits++;
        if (fraction >= 0) fraction++;
      } else if (c === 46 && fraction === -1) fraction = 0;
      else {
        if (c !== 44) {
          digits = -1;
          const comma = bytes.indexOf(44, i);
          i = comma === -1 || comma > end ? end : comma;
        }
        break;
      }
    }
    if ((i === end) !== (column === last)) return false;
    let value: number;
    if (digits > 0 && digits <= 15 && fraction !== 0) {
      value = fraction > 0 ? mantissa / (POWERS_OF_TEN[fraction] as number) : mantissa;
      if (negative) value = -value;
    } else {
      const text = bytes.toString('utf8', cellStart, i);
      value = Number(text);
      // Number('') and Number('  ') are 0 where cellValue makes an empty cell null.
      if (Number.isNaN(value) || (value === 0 && text.trim() === '')) return false;
    }
    into[row + (positions[column] as number)] = value;
    i++;
  }
  return true;
}

// 10^0 … 10^15, exact doubles.
const POWERS_OF_TEN = Array.from({ length: 16 }, (_, i) => 10 ** i);

/** One outcome per CSV line, as `scoreRows` of the decoded lines gives them. */
export async function scoreCsvLines(
  model: LoadedModel,
  lines: LineBatch,
  header: readonly string[],
  limits: Limits,
  engine: InferenceEngine = inlineEngine,
): Promise<RowOutcome[]> {
  const outcomes = new Array<RowOutcome>(lines.length);
  const layout = matrixLayout(header, model);
  const { values, taken, others } = numericRows(lines, layout.positions);
  let rest = others;
  if (taken.length > 0) {
    const texts = await scoreMatrix(model, values, taken.length, header, layout, limits, engine);
    if (texts === undefined) rest = Array.from({ length: lines.length }, (_, line) => line);
    else {
      taken.forEach((line, i) => {
        outcomes[line] = texts[i] as string;
      });
    }
  }
  if (rest.length > 0) {
    const rows = rest.map((line) => decodeRow(lines.text(line), 'csv', header));
    const scored = await scoreRows(model, rows, limits, engine);
    rest.forEach((line, i) => {
      outcomes[line] = scored[i] as RowOutcome;
    });
  }
  return outcomes;
}

/**
 * Where each column goes in a row of the matrix scoreMatrix takes: the manifest's feature order
 * when the columns are exactly the features (`asFeatures`), else their own order.
 */
export interface MatrixLayout {
  positions: number[];
  asFeatures: boolean;
}

export function matrixLayout(header: readonly string[], model: LoadedModel): MatrixLayout {
  const features = featurePositions(header, model.features);
  return features === undefined
    ? { positions: header.map((_, column) => column), asFeatures: false }
    : { positions: features, asFeatures: true };
}

/**
 * Output lines for rows of numbers laid out by `layout`, or undefined when some row is out of the
 * model's range or shape (the caller's general path then finds which).
 */
export async function scoreMatrix(
  model: LoadedModel,
  values: Float64Array,
  rows: number,
  header: readonly string[],
  { positions, asFeatures }: MatrixLayout,
  limits: Limits,
  engine: InferenceEngine = inlineEngine,
): Promise<string[] | undefined> {
  try {
    return (
      (asFeatures ? await scoreFeatureRows(model, values, rows, limits, engine) : undefined) ??
      (await scoreColumns(model, columnsOf(values, header, positions, rows), rows, limits, engine))
    );
  } catch (err) {
    if (err instanceof BadRequestError) return undefined;
    throw err;
  }
}

/** Where each CSV column goes in a feature row, when the header names exactly the features. */
function featurePositions(
  header: readonly string[],
  features: readonly string[] | undefined,
): number[] | undefined {
  if (features === undefined || features.length !== header.length) return undefined;
  const positions = header.map((name) => features.indexOf(name));
  return positions.every((position) => position >= 0) ? positions : undefined;
}

function columnsOf(
  values: Float64Array,
  header: readonly string[],
  positions: readonly number[],
  rows: number,
): Map<string, number[]> {
  const width = header.length;
  return new Map(
    header.map((name, column) => {
      const at = positions[column] as number;
      const cells = new Array<number>(rows);
      for (let row = 0; row < rows; row++) cells[row] = values[row * width + at] as number;
      return [name, cells];
    }),
  );
}
