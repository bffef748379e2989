import type { Manifest } from '../repository/manifest';
import type { ModelSignature } from '../tensor/types';
import type { OrtSession } from './onnx';

export interface LoadedModel extends ModelSignature {
  readonly manifest: Manifest;
  readonly session: OrtSession;
  /** Wall time of download + verify + session creation, for the load metric. */
  readonly loadMs: number;
  /** Where `loadMs` went: reading (store or disk cache), checks, onnxruntime's session. */
  readonly loadPhases?: LoadPhases;
}

export interface LoadPhases {
  fetchMs: number;
  verifyMs: number;
  sessionMs: number;
}
