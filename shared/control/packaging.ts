import { MANIFEST_SCHEMA, type Manifest, type ManifestSample, parseManifest } from '../repository/manifest';
import { sha256Hex, type VersionPackage } from '../repository/repository';
import { describeModel } from '../serving/model-cache';
import { createSession } from '../serving/native-session';
import { signatureOf } from '../serving/onnx';
import { checkSample } from '../serving/sample-check';
import { computeBaseline } from './baseline';

export interface PackageOptions {
  name: string;
  artifact: Uint8Array;
  description?: string;
  features?: string[];
  /** Sample inputs; expected outputs are checked when given, recorded from the model when not. */
  sample?: { inputs: ManifestSample['inputs']; outputs?: ManifestSample['outputs']; tolerance?: number };
  source?: Record<string, string>;
  metrics?: Record<string, number>;
  /** Reference data by column (control/baseline.ts): its statistics go in the manifest for drift. */
  baseline?: Map<string, unknown[]>;
  version?: number;
  now?: Date;
}

export const DEFAULT_TOLERANCE = 1e-5;

export class PackagingError extends Error {
  override name = 'PackagingError';
}

/**
 * Makes a version package from an ONNX file: the signature is read from the model itself, the
 * artifact is hashed, and the sample (if any) is run so the manifest never promises what the model
 * does not do.
 */
export async function packageModel(options: PackageOptions): Promise<VersionPackage> {
  let session: Awaited<ReturnType<typeof createSession>>;
  try {
    session = await createSession(options.artifact);
  } catch (err) {
    throw new PackagingError(`onnxruntime cannot load this model: ${(err as Error).message.split('\n')[0]}`);
  }
  try {
    const signature = signatureOf(session);
    if (options.features !== undefined) checkFeatures(options.features, signature.inputs);
    const draft: Manifest = parseManifest(
      {
        schema: MANIFEST_SCHEMA,
        name: options.name,
        version: options.version ?? 1,
        ...(options.description === undefined ? {} : { description: options.description }),
        artifact: {
          file: 'model.onnx',
          sha256: sha256Hex(options.artifact),
          bytes: options.artifact.byteLength,
        },
        signature,
        ...(options.features === undefined ? {} : { features: options.features }),
        ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
        ...(options.source === undefined ? {} : { source: options.source }),
        createdAt: (options.now ?? new Date()).toISOString(),
      },
      'package',
    );
    const sampled = options.sample === undefined ? draft : await withSample(draft, options.sample, session);
    if (options.baseline === undefined) return { manifest: sampled, artifact: options.artifact };
    const baseline = await computeBaseline(options.baseline, describeModel(sampled, session)).catch(
      (err: unknown) => {
        throw new PackagingError(`--baseline: ${(err as Error).message}`);
      },
    );
    return { manifest: parseManifest({ ...sampled, baseline }, 'package'), artifact: options.artifact };
  } finally {
    await session.release();
  }
}

async function withSample(
  draft: Manifest,
  sample: NonNullable<PackageOptions['sample']>,
  session: Awaited<ReturnType<typeof createSession>>,
): Promise<Manifest> {
  const tolerance = sample.tolerance ?? DEFAULT_TOLERANCE;
  const model = describeModel(draft, session);
  const expected = sample.outputs;
  const check = await checkSample(model, {
    inputs: sample.inputs,
    outputs: expected ?? draft.signature.outputs.map((spec) => ({ ...spec, data: [] })),
    tolerance,
  }).catch((err: unknown) => {
    throw new PackagingError(`the sample does not run: ${(err as Error).message}`);
  });
  if (expected !== undefined && !check.ok) {
    throw new PackagingError(
      `the model does not reproduce the sample's expected outputs: ${check.problems.join('; ')}`,
    );
  }
  const outputs: unknown = expected ?? check.outputs;
  return parseManifest({ ...draft, sample: { inputs: sample.inputs, outputs, tolerance } }, 'package');
}

function checkFeatures(features: string[], inputs: Manifest['signature']['inputs']): void {
  if (new Set(features).size !== features.length) throw new PackagingError('features: names must be unique');
  const [only, ...others] = inputs;
  if (only === undefined || others.length > 0) {
    throw new PackagingError(
      `features: feature names describe the columns of a single [N,k] input, but the model has ${inputs.length} inputs`,
    );
  }
  const width = only.shape.at(-1);
  if (only.shape.length !== 2 || (width !== undefined && width >= 0 && width !== features.length)) {
    throw new PackagingError(
      `features: ${features.length} names given, but input "${only.name}" has shape [${only.shape}] (expected [N,${features.length}])`,
    );
  }
}
