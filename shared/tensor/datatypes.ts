/**
 * Open Inference Protocol datatypes and their onnxruntime counterparts. The OIP names are the ones
 * clients and manifests use; the ORT names only appear where tensors are built.
 */
export const DATATYPES = [
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
] as const;
export type Datatype = (typeof DATATYPES)[number];

export type OrtType =
  | 'bool'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'string';

const ORT_BY_DATATYPE: Record<Datatype, OrtType> = {
  BOOL: 'bool',
  UINT8: 'uint8',
  UINT16: 'uint16',
  UINT32: 'uint32',
  UINT64: 'uint64',
  INT8: 'int8',
  INT16: 'int16',
  INT32: 'int32',
  INT64: 'int64',
  FP16: 'float16',
  FP32: 'float32',
  FP64: 'float64',
  BYTES: 'string',
};

const DATATYPE_BY_ORT = new Map<string, Datatype>(
  Object.entries(ORT_BY_DATATYPE).map(([datatype, ort]) => [ort, datatype as Datatype]),
);

export function isDatatype(value: unknown): value is Datatype {
  return typeof value === 'string' && (DATATYPES as readonly string[]).includes(value);
}

export function toOrtType(datatype: Datatype): OrtType {
  return ORT_BY_DATATYPE[datatype];
}

export function fromOrtType(ortType: string): Datatype | undefined {
  return DATATYPE_BY_ORT.get(ortType);
}

/** Inclusive integer bounds, so a value outside them is rejected rather than wrapped. */
export const INTEGER_RANGE: Partial<Record<Datatype, readonly [number, number]>> = {
  UINT8: [0, 0xff],
  UINT16: [0, 0xffff],
  UINT32: [0, 0xffffffff],
  INT8: [-0x80, 0x7f],
  INT16: [-0x8000, 0x7fff],
  INT32: [-0x80000000, 0x7fffffff],
};

/** Bytes per element for fixed-width datatypes (binary tensor extension, size limits). */
export const BYTES_PER_ELEMENT: Partial<Record<Datatype, number>> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};
