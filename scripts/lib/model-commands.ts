/** `package` and `publish`: turning an ONNX file into a version of a model. */

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_TOLERANCE, packageModel } from '../../shared/control/packaging';
import { ARTIFACT_FILE, MANIFEST_FILE, type Manifest, parseManifest } from '../../shared/repository/manifest';
import type { ModelRepository, VersionPackage } from '../../shared/repository/repository';
import { UsageError } from './command-line';
import { readBaselineFile } from './monitor-commands';

/** Where `package` and `import-mlflow` write by default: one ignored folder of the checkout. */
export const PACKAGES_DIR = 'model-packages';

export interface PackageOptions {
  name?: string | undefined;
  sample?: string | undefined;
  features?: string | undefined;
  description?: string | undefined;
  tolerance?: string | undefined;
  /** Training data (CSV or JSON lines) whose per-feature statistics drift is measured against. */
  baseline?: string | undefined;
}

export function readJsonFile(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
}

export async function packageFile(file: string, options: PackageOptions): Promise<VersionPackage> {
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const name = options.name ?? path.basename(file, path.extname(file));
  const sample =
    options.sample === undefined
      ? undefined
      : (readJsonFile(options.sample, '--sample') as Record<string, unknown>);
  if (sample !== undefined && !Array.isArray(sample['inputs'])) {
    throw new UsageError(
      `--sample: ${options.sample} needs an "inputs" array (OIP tensors) and optionally "outputs"`,
    );
  }
  const tolerance = options.tolerance === undefined ? undefined : Number(options.tolerance);
  if (tolerance !== undefined && !(tolerance >= 0))
    throw new UsageError(`--tolerance: expected a number >= 0`);
  return packageModel({
    name,
    artifact: readFileSync(file),
    ...(options.description === undefined ? {} : { description: options.description }),
    ...(options.features === undefined ? {} : { features: options.features.split(',').map((f) => f.trim()) }),
    ...(sample === undefined
      ? {}
      : {
          sample: {
            inputs: sample['inputs'] as never,
            ...(sample['outputs'] === undefined ? {} : { outputs: sample['outputs'] as never }),
            tolerance:
              tolerance ??
              (typeof sample['tolerance'] === 'number' ? sample['tolerance'] : DEFAULT_TOLERANCE),
          },
        }),
    source: { file: path.basename(file) },
    ...(options.baseline === undefined
      ? {}
      : {
          baseline: readBaselineFile(options.baseline, (message) => {
            throw new UsageError(message);
          }),
        }),
  });
}

/** Writes a package folder: DIR/model.onnx and DIR/manifest.json. */
export function writePackage(pkg: VersionPackage, directory: string): string {
  const outDir = path.resolve(directory);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, ARTIFACT_FILE), pkg.artifact);
  writeFileSync(path.join(outDir, MANIFEST_FILE), `${JSON.stringify(pkg.manifest, null, 2)}\n`);
  return outDir;
}

/** A package directory (from `package`) or a bare .onnx file, packaged on the fly. */
export async function loadPackage(source: string, options: PackageOptions): Promise<VersionPackage> {
  if (existsSync(source) && statSync(source).isDirectory()) {
    const manifestPath = path.join(source, MANIFEST_FILE);
    const manifest: Manifest = parseManifest(readJsonFile(manifestPath, 'package'), manifestPath);
    if (options.name !== undefined && options.name !== manifest.name) {
      throw new UsageError(`--name ${options.name} differs from the package's name ${manifest.name}`);
    }
    return { manifest, artifact: readFileSync(path.join(source, ARTIFACT_FILE)) };
  }
  return packageFile(source, options);
}

/**
 * The existing version whose artifact is byte-identical to the package's, if any: publishing it
 * again would only make a second name for the same model (re-running a script, a stale folder).
 */
export async function identicalVersion(
  repository: ModelRepository,
  pkg: VersionPackage,
): Promise<number | undefined> {
  for (const version of await repository.listVersions(pkg.manifest.name)) {
    const manifest = await repository.readManifest(pkg.manifest.name, version).catch(() => undefined);
    if (manifest?.artifact.sha256 === pkg.manifest.artifact.sha256) return version;
  }
  return undefined;
}

export function describeSignature(manifest: Manifest): string {
  const line = (spec: { name: string; datatype: string; shape: number[] }) =>
    `  ${spec.name}: ${spec.datatype} [${spec.shape.join(',')}]`;
  return [
    'inputs:',
    ...manifest.signature.inputs.map(line),
    'outputs:',
    ...manifest.signature.outputs.map(line),
    `sha256: ${manifest.artifact.sha256} (${manifest.artifact.bytes} bytes)`,
  ].join('\n');
}
