import { joinKey } from '../store/types';

/**
 * Where things live in a model repository:
 *   <model>/<version>/model.onnx, <model>/<version>/manifest.json, <model>/deployments/<stage>.json
 * Kept free of the schemas (zod) so that the cold-start prefetch can name keys before they load.
 */
export const ARTIFACT_FILE = 'model.onnx';
export const MANIFEST_FILE = 'manifest.json';
export const DEPLOYMENTS_DIR = 'deployments';

export function deploymentKey(model: string, stage: string): string {
  return joinKey(model, DEPLOYMENTS_DIR, `${stage}.json`);
}

export function manifestKey(model: string, version: number): string {
  return joinKey(model, String(version), MANIFEST_FILE);
}

export function artifactKey(model: string, version: number): string {
  return joinKey(model, String(version), ARTIFACT_FILE);
}
