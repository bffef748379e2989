/**
 * The Open Inference Protocol binary tensor data extension, in the form Triton defines: the body
 * is a JSON header of `Inference-Header-Content-Length` bytes followed by raw little-endian,
 * row-major tensor bytes, one run per input that names its size in `parameters.binary_data_size`,
 * in input order. Outputs come back binary when the request asks (`outputs[i].parameters.binary_data`
 * or the request parameter `binary_data_output`); the response then has the same layout.
 */

import { BadRequestError, PayloadTooLargeError } from '../errors';
import { jsonResponse, type ServeRequest, type ServeResponse } from '../http/request';
import { type BodyLimits, checkJsonDepth, vetJson } from '../security/body';
import { BYTES_PER_ELEMENT, type Datatype } from '../tensor/datatypes';
import { formatShape, type TensorData, typeName } from '../tensor/tensor';
import type { OutputTensor } from '../tensor/types';
import { parseOipBody } from './oip-fast';

export const INFERENCE_HEADER = 'inference-header-content-length';
export const BINARY_EXTENSION = 'binary_tensor_data';

const BINARY_SECTION = Symbol('binary tensor data');

/** The bytes after the JSON header, consumed input by input in request order. */
export class BinarySection {
  private offset = 0;

  constructor(readonly bytes: Uint8Array) {}

  take(size: number, where: string): Uint8Array {
    const left = this.bytes.byteLength - this.offset;
    if (size > left) {
      throw new BadRequestError(
        `${where}.parameters.binary_data_size: ${size} bytes run past the end of the body (${left} bytes of binary data left)`,
      );
    }
    const out = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return out;
  }

  /** Back to the first byte: the same body is parsed again for a shadow model. */
  rewind(): void {
    this.offset = 0;
  }

  /** Every byte must belong to an input: a leftover tail means the sizes are wrong. */
  finish(): void {
    const left = this.bytes.byteLength - this.offset;
    if (left > 0) {
      throw new BadRequestError(
        `request body: ${left} bytes of binary data after the inputs' binary_data_size total of ${this.offset}`,
      );
    }
  }
}

export function binarySectionOf(body: unknown): BinarySection | undefined {
  return body !== null && typeof body === 'object'
    ? (body as { [BINARY_SECTION]?: BinarySection })[BINARY_SECTION]
    : undefined;
}

/**
 * Splits a binary-extension body into its JSON header (parsed) and binary section. Any content
 * type is accepted: clients send application/octet-stream or nothing.
 */
export function parseBinaryBody(request: ServeRequest, limits: BodyLimits): unknown {
  const maxBytes = limits.maxBodyBytes;
  const given = request.headers[INFERENCE_HEADER] ?? '';
  if (!/^\d{1,10}$/.test(given.trim())) {
    throw new BadRequestError(
      `${INFERENCE_HEADER} header: expected the JSON header's length in bytes, got ${JSON.stringify(given)}`,
    );
  }
  const headerLength = Number(given.trim());
  const raw = request.body ?? new Uint8Array(0);
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  if (bytes.byteLength > maxBytes) {
    throw new PayloadTooLargeError(
      `request body is ${bytes.byteLength} bytes, more than the limit of ${maxBytes}`,
    );
  }
  if (headerLength > bytes.byteLength) {
    throw new BadRequestError(
      `${INFERENCE_HEADER} header: ${headerLength} bytes is beyond the body's ${bytes.byteLength} bytes`,
    );
  }
  if (headerLength === 0) throw new BadRequestError(`${INFERENCE_HEADER} header: the JSON header is empty`);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, headerLength).toString('utf8');
  checkJsonDepth(text, limits.maxJsonDepth);
  let body: unknown;
  try {
    body = parseOipBody(text) ?? JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(
      `request body: the first ${headerLength} bytes (${INFERENCE_HEADER}) are not valid JSON: ${(err as Error).message}`,
    );
  }
  vetJson(body, limits);
  if (body !== null && typeof body === 'object') {
    Object.defineProperty(body, BINARY_SECTION, {
      value: new BinarySection(bytes.subarray(headerLength)),
      enumerable: false,
    });
  }
  return body;
}

/** The size an input declares in `parameters.binary_data_size`, or undefined when it sends JSON data. */
export function binaryDataSize(tensor: Record<string, unknown>, where: string): number | undefined {
  const parameters = tensor['parameters'];
  if (parameters === undefined || parameters === null || typeof parameters !== 'object') return undefined;
  const size = (parameters as Record<string, unknown>)['binary_data_size'];
  if (size === undefined) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new BadRequestError(
      `${where}.parameters.binary_data_size: expected a non-negative integer, got ${JSON.stringify(size) ?? typeName(size)}`,
    );
  }
  if (tensor['data'] !== undefined) {
    throw new BadRequestError(`${where}: give either data or parameters.binary_data_size, not both`);
  }
  return size;
}

/** Reads one input's bytes from the binary section into the typed array its datatype needs. */
export function decodeBinaryInput(
  body: unknown,
  datatype: Datatype,
  shape: readonly number[],
  count: number,
  size: number,
  where: string,
): TensorData {
  const section = binarySectionOf(body);
  if (section === undefined) {
    throw new BadRequestError(
      `${where}.parameters.binary_data_size: the request has no binary data; put the JSON header's length in the ${INFERENCE_HEADER} header`,
    );
  }
  if (datatype === 'BYTES') return decodeBinaryStrings(section.take(size, where), count, where);
  const width = BYTES_PER_ELEMENT[datatype] ?? 1;
  if (size !== count * width) {
    throw new BadRequestError(
      `${where}.parameters.binary_data_size: ${datatype} ${formatShape(shape)} takes ${count * width} bytes, got ${size}`,
    );
  }
  const bytes = section.take(size, where);
  // Copy: the section's offset is rarely aligned for the element width, and the request buffer
  // should not stay referenced by a tensor.
  const target = newTypedArray(datatype, count);
  new Uint8Array(target.buffer, target.byteOffset, target.byteLength).set(bytes);
  if (datatype === 'FP32' || datatype === 'FP64' || datatype === 'FP16') checkFinite(target, datatype, where);
  if (datatype === 'BOOL') {
    const flags = target as Uint8Array;
    for (let i = 0; i < flags.length; i++) {
      if ((flags[i] as number) > 1) {
        throw new BadRequestError(`${where}: binary BOOL element ${i} is ${flags[i]}, expected 0 or 1`);
      }
    }
  }
  return target;
}

/**
 * The same policy as JSON data (SECURITY.md, "Hostile input"): no NaN or ±Infinity reaches a model,
 * whichever encoding carried it.
 */
function checkFinite(values: Exclude<TensorData, string[]>, datatype: Datatype, where: string): void {
  if (datatype === 'FP16') {
    const bits = values as Uint16Array;
    for (let i = 0; i < bits.length; i++) {
      // Exponent all ones: ±Infinity or NaN in IEEE half precision.
      if (((bits[i] as number) & 0x7c00) === 0x7c00) throw notFinite(i, where, datatype);
    }
    return;
  }
  const floats = values as Float32Array | Float64Array;
  for (let i = 0; i < floats.length; i++) {
    if (!Number.isFinite(floats[i])) throw notFinite(i, where, datatype);
  }
}

function notFinite(index: number, where: string, datatype: Datatype): BadRequestError {
  return new BadRequestError(
    `${where}: binary ${datatype} element ${index} is NaN or Infinity; only finite numbers are accepted`,
  );
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeBinaryStrings(bytes: Uint8Array, count: number, where: string): string[] {
  const out: string[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (offset + 4 > bytes.byteLength) {
      throw new BadRequestError(`${where}: binary BYTES element ${out.length} has a truncated length prefix`);
    }
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength) {
      throw new BadRequestError(
        `${where}: binary BYTES element ${out.length} claims ${length} bytes, only ${bytes.byteLength - offset} left`,
      );
    }
    try {
      out.push(strictUtf8.decode(bytes.subarray(offset, offset + length)));
    } catch {
      // Replacing bad bytes with U+FFFD would hand the model a string the client never sent.
      throw new BadRequestError(`${where}: binary BYTES element ${out.length} is not valid UTF-8`);
    }
    offset += length;
  }
  if (out.length !== count) {
    throw new BadRequestError(
      `${where}: binary BYTES data holds ${out.length} elements, the shape needs ${count}`,
    );
  }
  return out;
}

function newTypedArray(datatype: Datatype, count: number): Exclude<TensorData, string[]> {
  switch (datatype) {
    case 'FP32':
      return new Float32Array(count);
    case 'FP64':
      return new Float64Array(count);
    case 'INT8':
      return new Int8Array(count);
    case 'INT16':
      return new Int16Array(count);
    case 'INT32':
      return new Int32Array(count);
    case 'INT64':
      return new BigInt64Array(count);
    case 'UINT16':
    case 'FP16':
      // onnxruntime takes float16 tensors as their raw 16-bit patterns.
      return new Uint16Array(count);
    case 'UINT32':
      return new Uint32Array(count);
    case 'UINT64':
      return new BigUint64Array(count);
    default:
      return new Uint8Array(count);
  }
}

/**
 * Output names to return as binary: per-output `parameters.binary_data` wins over the request's
 * `parameters.binary_data_output` default.
 */
export function binaryOutputNames(request: Record<string, unknown>, names: readonly string[]): Set<string> {
  const binary = new Set<string>();
  const parameters = request['parameters'];
  if (parameters === undefined && !Array.isArray(request['outputs'])) return binary;
  let fallback = false;
  if (parameters !== null && typeof parameters === 'object') {
    const value = (parameters as Record<string, unknown>)['binary_data_output'];
    if (value !== undefined && typeof value !== 'boolean') {
      throw new BadRequestError(
        `parameters.binary_data_output: expected true or false, got ${typeName(value)}`,
      );
    }
    fallback = value === true;
  }
  const perOutput = new Map<string, boolean>();
  const requested = request['outputs'];
  if (Array.isArray(requested)) {
    requested.forEach((entry: unknown, index) => {
      if (entry === null || typeof entry !== 'object') return;
      const { name, parameters: own } = entry as Record<string, unknown>;
      if (typeof name !== 'string' || own === null || typeof own !== 'object') return;
      const value = (own as Record<string, unknown>)['binary_data'];
      if (value === undefined) return;
      if (typeof value !== 'boolean') {
        throw new BadRequestError(
          `outputs[${index}].parameters.binary_data: expected true or false, got ${typeName(value)}`,
        );
      }
      perOutput.set(name, value);
    });
  }
  for (const name of names) if (perOutput.get(name) ?? fallback) binary.add(name);
  return binary;
}

/** An output tensor's bytes in the extension's layout. */
export function encodeBinaryOutput(data: unknown): Uint8Array {
  if (Array.isArray(data)) {
    const parts = data.map((value) => Buffer.from(String(value), 'utf8'));
    const out = Buffer.allocUnsafe(parts.reduce((sum, part) => sum + 4 + part.byteLength, 0));
    let offset = 0;
    for (const part of parts) {
      out.writeUInt32LE(part.byteLength, offset);
      part.copy(out, offset + 4);
      offset += 4 + part.byteLength;
    }
    return out;
  }
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return new Uint8Array(0);
}

/** An OIP response body: the model's identity and its outputs. */
interface OipResponseBody {
  outputs: OutputTensor[];
  [field: string]: unknown;
}

/** JSON when every output is JSON; otherwise the JSON header + output bytes, with its length header. */
export function inferResponse(result: OipResponseBody, headers: Record<string, string>): ServeResponse {
  if (!result.outputs.some((output) => output.binaryData !== undefined))
    return jsonResponse(200, result, headers);
  const parts: Uint8Array[] = [];
  const outputs = result.outputs.map(({ binaryData, ...rest }) => {
    if (binaryData === undefined) return rest;
    const bytes = encodeBinaryOutput(binaryData);
    parts.push(bytes);
    return { ...rest, parameters: { binary_data_size: bytes.byteLength } };
  });
  const header = Buffer.from(JSON.stringify({ ...result, outputs }), 'utf8');
  const body = Buffer.concat([header, ...parts]);
  return {
    status: 200,
    headers: {
      'content-type': 'application/octet-stream',
      [INFERENCE_HEADER]: String(header.byteLength),
      ...headers,
    },
    body,
  };
}
