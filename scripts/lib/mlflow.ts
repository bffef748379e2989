import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ManifestSample } from '../../shared/repository/manifest';
import type { Datatype as DataType } from '../../shared/tensor/datatypes';

/**
 * Reads an MLflow model directory with an ONNX flavor: `MLmodel` (YAML) next to the ONNX file.
 * Only the small part of YAML that MLmodel files use is understood (nested mappings, scalar lists,
 * plain and quoted scalars); anything else is reported with its line number.
 */
export interface MlflowModel {
  onnxFile: string;
  /** Column names from a column-based signature (tabular models). */
  columns?: string[];
  /** Tensor-based signature inputs: dtype names as MLflow writes them (numpy). */
  tensorInputs?: { name?: string; dtype: string; shape: number[] }[];
  /** An input example in dataframe-split form, when the directory has one. */
  example?: { columns?: string[]; data: unknown[][] };
  source: Record<string, string>;
}

export class MlflowImportError extends Error {
  override name = 'MlflowImportError';
}

export function readMlflowModel(dir: string): MlflowModel {
  const file = path.join(dir, 'MLmodel');
  if (!existsSync(file))
    throw new MlflowImportError(`${dir} has no MLmodel file; is it an MLflow model directory?`);
  const doc = parseYamlSubset(readFileSync(file, 'utf8'), file);
  const flavors = asMap(doc['flavors'], `${file}: flavors`);
  const onnx = flavors['onnx'];
  if (onnx === undefined) {
    throw new MlflowImportError(
      `${file} has no onnx flavor (flavors: ${Object.keys(flavors).join(', ') || 'none'}); export the model with mlflow.onnx`,
    );
  }
  const data = asMap(onnx, `${file}: flavors.onnx`)['data'];
  const onnxFile = path.join(dir, typeof data === 'string' && data !== '' ? data : 'model.onnx');
  if (!existsSync(onnxFile))
    throw new MlflowImportError(`${file}: the onnx flavor's file ${onnxFile} does not exist`);
  const model: MlflowModel = { onnxFile, source: { format: 'mlflow' } };
  for (const [key, name] of [
    ['run_id', 'mlflow_run_id'],
    ['model_uuid', 'mlflow_model_uuid'],
    ['mlflow_version', 'mlflow_version'],
    ['utc_time_created', 'mlflow_created'],
  ] as const) {
    const value = doc[key];
    if (typeof value === 'string' && value !== '') model.source[name] = value;
  }
  const signature = doc['signature'];
  if (signature !== undefined && signature !== null) {
    const inputs = asMap(signature, `${file}: signature`)['inputs'];
    if (typeof inputs === 'string') {
      let specs: unknown;
      try {
        specs = JSON.parse(inputs);
      } catch (err) {
        throw new MlflowImportError(`${file}: signature.inputs is not JSON: ${(err as Error).message}`);
      }
      if (!Array.isArray(specs)) throw new MlflowImportError(`${file}: signature.inputs must be a JSON list`);
      const tensors = specs.filter((spec) => (spec as { type?: string }).type === 'tensor');
      if (tensors.length > 0) {
        model.tensorInputs = tensors.map((spec, index) => {
          const tensorSpec = (spec as { 'tensor-spec'?: { dtype?: string; shape?: number[] } })[
            'tensor-spec'
          ];
          if (typeof tensorSpec?.dtype !== 'string' || !Array.isArray(tensorSpec.shape)) {
            throw new MlflowImportError(
              `${file}: signature.inputs[${index}] has no tensor-spec dtype and shape`,
            );
          }
          const name = (spec as { name?: unknown }).name;
          return {
            ...(typeof name === 'string' ? { name } : {}),
            dtype: tensorSpec.dtype,
            shape: tensorSpec.shape,
          };
        });
      } else {
        const columns = specs.map((spec, index) => {
          const name = (spec as { name?: unknown }).name;
          if (typeof name !== 'string' || name === '') {
            throw new MlflowImportError(`${file}: signature.inputs[${index}] is a column without a name`);
          }
          return name;
        });
        if (columns.length > 0) model.columns = columns;
      }
    }
  }
  const exampleFile = path.join(dir, 'input_example.json');
  if (existsSync(exampleFile)) {
    let example: unknown;
    try {
      example = JSON.parse(readFileSync(exampleFile, 'utf8'));
    } catch (err) {
      throw new MlflowImportError(`${exampleFile} is not JSON: ${(err as Error).message}`);
    }
    const split = (example as { dataframe_split?: unknown }).dataframe_split ?? example;
    const rows = (split as { data?: unknown }).data;
    if (Array.isArray(rows) && rows.every(Array.isArray)) {
      const columns = (split as { columns?: unknown }).columns;
      model.example = {
        ...(Array.isArray(columns) ? { columns: columns.map(String) } : {}),
        data: rows as unknown[][],
      };
    }
  }
  return model;
}

const NUMPY_TO_OIP: Record<string, DataType> = {
  float32: 'FP32',
  float64: 'FP64',
  float16: 'FP16',
  int8: 'INT8',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  uint8: 'UINT8',
  uint16: 'UINT16',
  uint32: 'UINT32',
  uint64: 'UINT64',
  bool: 'BOOL',
};

/**
 * Compares MLflow's tensor signature with what the ONNX model declares; MLflow's is written by
 * the exporter and can disagree with the graph, which is what actually runs.
 */
export function signatureProblems(
  mlflow: NonNullable<MlflowModel['tensorInputs']>,
  model: { name: string; datatype: string; shape: number[] }[],
): string[] {
  const problems: string[] = [];
  if (mlflow.length !== model.length) {
    problems.push(`MLmodel declares ${mlflow.length} inputs, the ONNX model has ${model.length}`);
    return problems;
  }
  mlflow.forEach((spec, index) => {
    const actual = model[index];
    if (actual === undefined) return;
    const datatype = NUMPY_TO_OIP[spec.dtype];
    if (datatype !== actual.datatype) {
      problems.push(
        `input ${index} (${actual.name}): MLmodel says ${spec.dtype}, the model takes ${actual.datatype}`,
      );
    }
    const shapesAgree =
      spec.shape.length === actual.shape.length &&
      spec.shape.every((dim, d) => dim === -1 || actual.shape[d] === -1 || dim === actual.shape[d]);
    if (!shapesAgree) {
      problems.push(
        `input ${index} (${actual.name}): MLmodel shape [${spec.shape}] differs from the model's [${actual.shape}]`,
      );
    }
  });
  return problems;
}

/** An input example as a manifest sample, when the model has one [N,k] input it fits. */
export function exampleAsSample(
  example: NonNullable<MlflowModel['example']>,
  inputs: { name: string; datatype: string; shape: number[] }[],
): ManifestSample['inputs'] | undefined {
  const [only, ...others] = inputs;
  if (only === undefined || others.length > 0 || only.shape.length !== 2) return undefined;
  const width = example.data[0]?.length ?? 0;
  if (width === 0 || example.data.some((row) => row.length !== width)) return undefined;
  return [
    {
      name: only.name,
      datatype: only.datatype as DataType,
      shape: [example.data.length, width],
      data: example.data.flat(),
    },
  ];
}

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

/** The YAML subset of MLmodel files: block mappings, block lists of scalars, quoted scalars. */
export function parseYamlSubset(text: string, where: string): Record<string, Yaml> {
  const lines = text
    .split(/\r?\n/)
    .map((raw, index) => ({ raw, number: index + 1 }))
    .filter(({ raw }) => raw.trim() !== '' && !raw.trimStart().startsWith('#') && raw.trim() !== '---');
  let position = 0;
  const indentOf = (raw: string) => raw.length - raw.trimStart().length;

  const parseBlock = (indent: number): Yaml => {
    const first = lines[position];
    if (first === undefined) return null;
    if (first.raw.trimStart().startsWith('- ') || first.raw.trim() === '-') {
      const list: Yaml[] = [];
      while (position < lines.length) {
        const line = lines[position];
        if (line === undefined || indentOf(line.raw) !== indent || !line.raw.trimStart().startsWith('-'))
          break;
        const item = line.raw.trimStart().slice(1).trim();
        if (item.includes(': ') || item.endsWith(':')) {
          throw new MlflowImportError(`${where}:${line.number}: lists of mappings are not supported here`);
        }
        list.push(scalar(item, line.number));
        position++;
      }
      return list;
    }
    const map: Record<string, Yaml> = {};
    while (position < lines.length) {
      const line = lines[position];
      if (line === undefined) break;
      const lineIndent = indentOf(line.raw);
      if (lineIndent < indent) break;
      if (lineIndent > indent) throw new MlflowImportError(`${where}:${line.number}: unexpected indentation`);
      const match = /^([^:#][^:]*?):(?:\s+(.*))?$/.exec(line.raw.trim());
      if (match === null) throw new MlflowImportError(`${where}:${line.number}: expected "key: value"`);
      const key = match[1] ?? '';
      const rest = match[2]?.trim() ?? '';
      position++;
      if (rest !== '') {
        map[key] = scalar(rest, line.number);
        continue;
      }
      const next = lines[position];
      // A list may sit at the same indent as its key ("key:\n- a"), as MLflow writes them.
      if (
        next !== undefined &&
        (indentOf(next.raw) > indent ||
          (indentOf(next.raw) === indent && next.raw.trimStart().startsWith('-')))
      ) {
        map[key] = parseBlock(indentOf(next.raw));
      } else {
        map[key] = null;
      }
    }
    return map;
  };

  const scalar = (text: string, line: number): Yaml => {
    if (text.startsWith("'")) {
      if (!text.endsWith("'") || text.length < 2)
        throw new MlflowImportError(`${where}:${line}: unterminated quoted string`);
      return text.slice(1, -1).replace(/''/g, "'");
    }
    if (text.startsWith('"')) {
      try {
        return JSON.parse(text) as string;
      } catch {
        throw new MlflowImportError(`${where}:${line}: bad double-quoted string`);
      }
    }
    if (text.startsWith('{') || text.startsWith('[')) {
      try {
        return JSON.parse(text) as Yaml;
      } catch {
        throw new MlflowImportError(
          `${where}:${line}: flow collections are only supported when they are JSON`,
        );
      }
    }
    const plain = text.replace(/\s+#.*$/, '');
    if (plain === 'null' || plain === '~') return null;
    if (plain === 'true') return true;
    if (plain === 'false') return false;
    return plain;
  };

  const root = parseBlock(0);
  if (root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new MlflowImportError(`${where}: expected a mapping at the top level`);
  }
  return root;
}

function asMap(value: Yaml | undefined, what: string): Record<string, Yaml> {
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MlflowImportError(`${what}: expected a mapping`);
  }
  return value;
}
