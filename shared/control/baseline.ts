/**
 * `modelfleet package --baseline data.csv|jsonl`: the training (or reference) data's statistics per
 * feature and of the model's own predictions on it, stored in the manifest so that serving can
 * measure drift against them (shared/telemetry/drift.ts).
 */
import type { Manifest } from '../repository/manifest';
import { runInference } from '../serving/inference';
import type { LoadedModel } from '../serving/model-cache';
import { type DriftBaseline, featureBaseline } from '../telemetry/drift';
import { predictionOf } from '../telemetry/quality';
import { outputValues } from '../tensor/compare';
import type { TensorData } from '../tensor/tensor';
import type { InferCall, InferInput, OutputTensor } from '../tensor/types';

export class BaselineError extends Error {
  override name = 'BaselineError';
}

/** Columns of a CSV (header row) or JSON-lines (one object per line) file; numbers stay numbers. */
export function parseBaselineData(text: string, format: 'csv' | 'jsonl'): Map<string, unknown[]> {
  const columns = new Map<string, unknown[]>();
  if (format === 'jsonl') {
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    lines.forEach((line, i) => {
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (err) {
        throw new BaselineError(`line ${i + 1}: not JSON (${(err as Error).message})`);
      }
      if (row === null || typeof row !== 'object' || Array.isArray(row)) {
        throw new BaselineError(`line ${i + 1}: expected an object of feature values`);
      }
      for (const [name, value] of Object.entries(row)) {
        const column = columns.get(name) ?? new Array<unknown>(i).fill(null);
        columns.set(name, column);
        column[i] = value;
      }
    });
    // A row without some key leaves a gap: every column gets one cell per row.
    for (const column of columns.values()) {
      for (let i = 0; i < lines.length; i++) if (column[i] === undefined) column[i] = null;
    }
    return columns;
  }
  const [header, ...rows] = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (header === undefined) throw new BaselineError('the CSV file is empty');
  const names = splitCsvLine(header);
  for (const name of names) columns.set(name, []);
  rows.forEach((line, i) => {
    const cells = splitCsvLine(line);
    if (cells.length !== names.length) {
      throw new BaselineError(`row ${i + 2}: ${cells.length} cells, the header names ${names.length}`);
    }
    names.forEach((name, j) => {
      const cell = cells[j] as string;
      const n = Number(cell);
      columns.get(name)?.push(cell.trim() !== '' && Number.isFinite(n) ? n : cell);
    });
  });
  return columns;
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else cell += c;
  }
  cells.push(cell);
  return cells;
}

/** The features a model's requests are measured on, in the manifest's layout (see tabular.ts). */
export function baselineFeatures(manifest: Manifest): string[] {
  return manifest.features ?? manifest.signature.inputs.map((input) => input.name);
}

const MAX_PREDICTION_ROWS = 10_000;

/** Baseline statistics of `columns`, with the distribution of `model`'s predictions on them. */
export async function computeBaseline(
  columns: Map<string, unknown[]>,
  model: LoadedModel,
): Promise<DriftBaseline> {
  const features = baselineFeatures(model.manifest);
  const missing = features.filter((name) => !columns.has(name));
  if (missing.length > 0) {
    throw new BaselineError(
      `missing column ${missing.map((m) => `"${m}"`).join(', ')}; the model takes ${features.join(', ')}`,
    );
  }
  const rows = columns.get(features[0] as string)?.length ?? 0;
  if (rows === 0) throw new BaselineError('no rows');
  const stats: DriftBaseline['features'] = {};
  for (const name of features) stats[name] = featureBaseline(columns.get(name) ?? []);
  const predicted = predictionOf(
    await predict(columns, features, Math.min(rows, MAX_PREDICTION_ROWS), model),
  );
  return {
    rows,
    features: stats,
    ...(predicted === undefined ? {} : { prediction: featureBaseline(predicted.values) }),
  };
}

async function predict(
  columns: Map<string, unknown[]>,
  features: string[],
  rows: number,
  model: LoadedModel,
): Promise<(OutputTensor & { data: unknown[] })[]> {
  const inputs = new Map<string, InferInput>();
  const specs = model.manifest.signature.inputs;
  if (model.manifest.features !== undefined && specs.length === 1) {
    const spec = specs[0] as (typeof specs)[number];
    const values: unknown[] = [];
    for (let i = 0; i < rows; i++) for (const name of features) values.push(columns.get(name)?.[i]);
    inputs.set(spec.name, {
      name: spec.name,
      shape: [rows, features.length],
      data: typed(spec.datatype, values),
    });
  } else {
    for (const spec of specs) {
      const values = (columns.get(spec.name) ?? []).slice(0, rows);
      inputs.set(spec.name, {
        name: spec.name,
        shape: spec.shape.length >= 2 ? [rows, 1] : [rows],
        data: typed(spec.datatype, values),
      });
    }
  }
  const call: InferCall = { inputs, outputs: model.manifest.signature.outputs.map((output) => output.name) };
  try {
    const { outputs } = await runInference(model, call);
    return outputs.map((output) => ({ ...output, data: outputValues(output) }));
  } catch (err) {
    throw new BaselineError(`the model does not run on the baseline rows: ${(err as Error).message}`);
  }
}

function typed(datatype: string, values: readonly unknown[]): TensorData {
  const numbers = values.map(Number);
  const bad = numbers.findIndex((n) => !Number.isFinite(n));
  if (bad !== -1)
    throw new BaselineError(`value ${JSON.stringify(values[bad])} is not a number (${datatype} input)`);
  switch (datatype) {
    case 'FP64':
      return Float64Array.from(numbers);
    case 'INT64':
      return BigInt64Array.from(numbers.map((n) => BigInt(Math.trunc(n))));
    case 'INT32':
      return Int32Array.from(numbers);
    case 'FP32':
      return Float32Array.from(numbers);
    default:
      throw new BaselineError(`inputs of type ${datatype} are not supported for baselines`);
  }
}
