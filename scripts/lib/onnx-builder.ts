import { onnx } from 'onnx-proto';

/**
 * Builds small ONNX models from a plain description, for the bundled samples, tests and benchmarks.
 * Only what those need: dense initializers, typed inputs/outputs with symbolic dims, node attributes.
 */
export type ElementType = 'FLOAT' | 'DOUBLE' | 'INT32' | 'INT64' | 'BOOL';

export interface ValueSpec {
  name: string;
  type: ElementType;
  /** Numbers are fixed dimensions, strings are symbolic (dynamic) ones such as "batch". */
  shape: (number | string)[];
}

export interface InitializerSpec {
  name: string;
  type: ElementType;
  dims: number[];
  values: number[];
}

export type AttributeValue = { i: number } | { f: number } | { ints: number[] } | { floats: number[] };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, AttributeValue>;
}

export interface ModelSpec {
  name: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers?: InitializerSpec[];
  nodes: NodeSpec[];
  opset?: number;
  docString?: string;
}

const DataType = onnx.TensorProto.DataType;
const ELEMENT_TYPES: Record<ElementType, number> = {
  FLOAT: DataType.FLOAT,
  DOUBLE: DataType.DOUBLE,
  INT32: DataType.INT32,
  INT64: DataType.INT64,
  BOOL: DataType.BOOL,
};

export function buildModel(spec: ModelSpec): Uint8Array {
  const valueInfo = (value: ValueSpec): onnx.IValueInfoProto => ({
    name: value.name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPES[value.type],
        shape: {
          dim: value.shape.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })),
        },
      },
    },
  });
  const initializer = (init: InitializerSpec): onnx.ITensorProto => {
    const tensor: onnx.ITensorProto = {
      name: init.name,
      dims: init.dims,
      dataType: ELEMENT_TYPES[init.type],
    };
    if (init.type === 'FLOAT') tensor.floatData = init.values;
    else if (init.type === 'DOUBLE') tensor.doubleData = init.values;
    else if (init.type === 'INT64') tensor.int64Data = init.values;
    else tensor.int32Data = init.values;
    return tensor;
  };
  const attribute = (name: string, value: AttributeValue): onnx.IAttributeProto => {
    const Type = onnx.AttributeProto.AttributeType;
    if ('i' in value) return { name, type: Type.INT, i: value.i };
    if ('f' in value) return { name, type: Type.FLOAT, f: value.f };
    if ('ints' in value) return { name, type: Type.INTS, ints: value.ints };
    return { name, type: Type.FLOATS, floats: value.floats };
  };
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'modelfleet',
    opsetImport: [{ domain: '', version: spec.opset ?? 13 }],
    docString: spec.docString ?? '',
    graph: {
      name: spec.name,
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map(initializer),
      node: spec.nodes.map((node, index) => ({
        name: `${node.op}_${index}`,
        opType: node.op,
        input: node.inputs,
        output: node.outputs,
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => attribute(name, value)),
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
