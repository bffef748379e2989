import { BadRequestError } from '../errors';
import type { InferCall, InferInput, ModelSignature } from '../tensor/types';

export type { InferCall, InferInput };

import { isDatatype } from '../tensor/datatypes';
import {
  checkShape,
  decodeTensorData,
  elementCount,
  formatShape,
  parseShape,
  typeName,
} from '../tensor/tensor';
import { binaryDataSize, binaryOutputNames, binarySectionOf, decodeBinaryInput } from './binary';

export interface Limits {
  maxTensorElements: number;
}

/** Parses an Open Inference Protocol v2 infer request body against a model's signature. */
export function parseInferRequest(body: unknown, model: ModelSignature, limits: Limits): InferCall {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequestError(`request body: expected a JSON object with "inputs", got ${typeName(body)}`);
  }
  const request = body as Record<string, unknown>;
  binarySectionOf(body)?.rewind();
  const id = request['id'];
  if (id !== undefined && typeof id !== 'string')
    throw new BadRequestError(`id: expected a string, got ${typeName(id)}`);
  const rawInputs = request['inputs'];
  if (!Array.isArray(rawInputs)) {
    throw new BadRequestError(
      `inputs: expected an array of tensors, got ${rawInputs === undefined ? 'nothing' : typeName(rawInputs)}`,
    );
  }
  const inputs = new Map<string, InferInput>();
  rawInputs.forEach((raw: unknown, index) => {
    const where = `inputs[${index}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new BadRequestError(`${where}: expected a tensor object, got ${typeName(raw)}`);
    }
    const tensor = raw as Record<string, unknown>;
    const name = tensor['name'];
    if (typeof name !== 'string')
      throw new BadRequestError(`${where}.name: expected a string, got ${typeName(name)}`);
    const spec = model.inputs.get(name);
    if (spec === undefined) {
      throw new BadRequestError(
        `${where}.name: model "${model.name}" has no input "${name}"; its inputs are ${[...model.inputs.keys()].join(', ')}`,
      );
    }
    if (inputs.has(name)) throw new BadRequestError(`${where}.name: input "${name}" is given more than once`);
    const datatype = tensor['datatype'];
    if (!isDatatype(datatype)) {
      throw new BadRequestError(
        `${where}.datatype: expected ${spec.datatype}, got ${JSON.stringify(datatype) ?? 'nothing'}`,
      );
    }
    if (datatype !== spec.datatype) {
      throw new BadRequestError(
        `${where}.datatype: input "${name}" expects ${spec.datatype}, got ${datatype}`,
      );
    }
    const shape = parseShape(tensor['shape'], where, limits.maxTensorElements);
    checkShape(spec, shape, where);
    const binarySize = binaryDataSize(tensor, where);
    const data =
      binarySize === undefined
        ? decodeTensorData(datatype, shape, tensor['data'], where)
        : decodeBinaryInput(body, datatype, shape, elementCount(shape), binarySize, where);
    inputs.set(name, { name, shape, data });
  });
  binarySectionOf(body)?.finish();
  for (const spec of model.inputs.values()) {
    if (!inputs.has(spec.name)) {
      throw new BadRequestError(
        `inputs: missing input "${spec.name}" (${spec.datatype} ${formatShape(spec.shape)})`,
      );
    }
  }
  const outputs = parseRequestedOutputs(request['outputs'], model);
  const binaryOutputs = binaryOutputNames(request, outputs);
  return {
    ...(id === undefined ? {} : { id }),
    inputs,
    outputs,
    ...(binaryOutputs.size === 0 ? {} : { binaryOutputs }),
  };
}

function parseRequestedOutputs(raw: unknown, model: ModelSignature): string[] {
  if (raw === undefined) return [...model.outputs.keys()];
  if (!Array.isArray(raw)) throw new BadRequestError(`outputs: expected an array, got ${typeName(raw)}`);
  if (raw.length === 0) return [...model.outputs.keys()];
  const names: string[] = [];
  const seen = new Set<string>();
  raw.forEach((entry: unknown, index) => {
    const name =
      entry !== null && typeof entry === 'object' ? (entry as Record<string, unknown>)['name'] : undefined;
    if (typeof name !== 'string') throw new BadRequestError(`outputs[${index}].name: expected a string`);
    if (!model.outputs.has(name)) {
      throw new BadRequestError(
        `outputs[${index}].name: model "${model.name}" has no output "${name}"; its outputs are ${[...model.outputs.keys()].join(', ')}`,
      );
    }
    if (seen.has(name))
      throw new BadRequestError(`outputs[${index}].name: output "${name}" is requested twice`);
    seen.add(name);
    names.push(name);
  });
  return names;
}
