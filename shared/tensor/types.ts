import type { TensorData, TensorSpec } from './tensor';

/**
 * The small types every room shares: what a model takes and gives (its signature), a validated
 * call, and its outputs. They live here, at the bottom, so that protocol parsers, the onnx engine
 * and the shadow comparison need not import each other.
 */

/** What the payload parsers need to know of a model: its name, version and tensor signature. */
export interface ModelSignature {
  readonly name: string;
  readonly version: number;
  readonly inputs: ReadonlyMap<string, TensorSpec>;
  readonly outputs: ReadonlyMap<string, TensorSpec>;
  /** Column names of a tabular model's single `[N, k]` input (the manifest's `features`). */
  readonly features?: readonly string[] | undefined;
}

export interface InferInput {
  name: string;
  shape: number[];
  data: TensorData;
}

/** A validated inference call: every model input present, typed and shaped per the signature. */
export interface InferCall {
  id?: string;
  inputs: Map<string, InferInput>;
  /** Output names to return, in order; all of the model's outputs when the request names none. */
  outputs: string[];
  /** Outputs the client asked for as binary tensor data (binary extension). */
  binaryOutputs?: Set<string>;
}

export interface OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  /** Values as JSON numbers, strings or booleans; absent for an output sent as binary data. */
  data?: unknown[];
  /**
   * Values of an output the client asked for as binary data, as the engine produced them; the
   * binary extension's response writes their bytes (protocol/binary.ts).
   */
  binaryData?: TensorData;
}
