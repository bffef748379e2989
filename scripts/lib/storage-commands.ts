import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_TOLERANCE, packageModel } from '../../shared/control/packaging';
import { NotFoundError } from '../../shared/errors';
import type { DeploymentConfig } from '../../shared/repository/deployment';
import { ARTIFACT_FILE, MANIFEST_FILE, type Manifest } from '../../shared/repository/manifest';
import { artifactMismatch, type ModelRepository } from '../../shared/repository/repository';
import { createSession } from '../../shared/serving/native-session';
import { signatureOf } from '../../shared/serving/onnx';
import { exampleAsSample, MlflowImportError, readMlflowModel, signatureProblems } from './mlflow';
import { describeShadow, describeSticky } from './traffic-commands';

/** Read-only repository commands (`list`, `show`, `verify`) and `import-mlflow`. */

export interface ModelSummary {
  model: string;
  versions: number[];
  stage: string;
  /** What the stage serves, or null when the model is not deployed there. */
  serving: DeploymentConfig['variants'] | null;
  shadow?: DeploymentConfig['shadow'];
  sticky?: DeploymentConfig['sticky'];
}

export async function listModels(repository: ModelRepository, stage: string): Promise<ModelSummary[]> {
  const models = await repository.listModels();
  return Promise.all(
    models.map(async (model) => {
      const [versions, deployment] = await Promise.all([
        repository.listVersions(model),
        repository.readDeployment(model, stage),
      ]);
      return {
        model,
        versions,
        stage,
        serving: deployment.status === 'ok' ? deployment.config.variants : null,
        ...(deployment.status === 'ok' && deployment.config.shadow !== undefined
          ? { shadow: deployment.config.shadow }
          : {}),
        ...(deployment.status === 'ok' && deployment.config.sticky !== undefined
          ? { sticky: deployment.config.sticky }
          : {}),
      };
    }),
  );
}

/** The table `list` prints, under a line naming the repository it read. */
export function formatModelList(summaries: ModelSummary[], stage: string, repository: string): string {
  const heading = `repository ${repository}, stage ${stage}`;
  if (summaries.length === 0) return `${heading}\nno models in this repository`;
  const rows = summaries.map((summary) => [
    summary.model,
    summary.versions.join(',') || '-',
    summary.serving === null
      ? 'not deployed'
      : summary.serving.map((variant) => `${variant.name}=v${variant.version}:${variant.weight}%`).join(' '),
    summary.shadow === undefined ? '-' : `v${summary.shadow.version}@${summary.shadow.sampleRate * 100}%`,
    summary.sticky === undefined ? '-' : `${summary.sticky.from}:${summary.sticky.key}`,
  ]);
  return `${heading}\n${table([['MODEL', 'VERSIONS', `STAGE ${stage}`, 'SHADOW', 'STICKY'], ...rows])}`;
}

export async function showVersion(
  repository: ModelRepository,
  model: string,
  version: number,
): Promise<Manifest> {
  return repository.readManifest(model, version);
}

export async function showDeployment(
  repository: ModelRepository,
  model: string,
  stage: string,
): Promise<DeploymentConfig> {
  const read = await repository.readDeployment(model, stage);
  if (read.status !== 'ok') {
    const versions = await repository.listVersions(model);
    if (versions.length === 0) throw new NotFoundError(`model "${model}" not found in the repository`);
    throw new NotFoundError(
      `model "${model}" is not deployed on stage "${stage}" (versions: ${versions.join(', ')})`,
    );
  }
  return read.config;
}

export function formatManifest(manifest: Manifest): string {
  const line = (spec: { name: string; datatype: string; shape: number[] }) =>
    `    ${spec.name}: ${spec.datatype} [${spec.shape.join(',')}]`;
  return [
    `${manifest.name} version ${manifest.version}${manifest.description ? ` — ${manifest.description}` : ''}`,
    `  created   ${manifest.createdAt}`,
    `  artifact  ${manifest.artifact.file} ${manifest.artifact.bytes} bytes sha256 ${manifest.artifact.sha256}`,
    '  inputs',
    ...manifest.signature.inputs.map(line),
    '  outputs',
    ...manifest.signature.outputs.map(line),
    ...(manifest.features === undefined ? [] : [`  features  ${manifest.features.join(', ')}`]),
    `  sample    ${manifest.sample === undefined ? 'none' : `yes (tolerance ${manifest.sample.tolerance})`}`,
  ].join('\n');
}

export function formatDeployment(config: DeploymentConfig): string {
  const variants = (list: DeploymentConfig['variants']) =>
    list.map((variant) => `${variant.name}=v${variant.version} (${variant.weight}%)`).join(', ');
  return [
    `${config.model} on stage ${config.stage}, updated ${config.updatedAt}`,
    `  serving          ${variants(config.variants)}`,
    `  shadow           ${describeShadow(config.shadow)}`,
    `  sticky           ${describeSticky(config.sticky)}`,
    `  last known good  ${config.lastKnownGood === undefined ? '-' : variants(config.lastKnownGood)}`,
    `  history (${config.history.length}, newest last)`,
    ...config.history
      .slice(-10)
      .map(
        (entry) =>
          `    ${entry.at}  ${entry.action}${entry.actor ? ` by ${entry.actor}` : ''}${entry.reason ? ` — ${entry.reason}` : ''}`,
      ),
  ].join('\n');
}

export interface VerifyResult {
  model: string;
  version: number;
  status: 'ok' | 'corrupt' | 'missing' | 'unverifiable' | 'unreadable';
  detail?: string;
  bytes?: number;
}

/**
 * Re-downloads and re-hashes every artifact (of one model, or all) against its manifest.
 * `unverifiable` is a Triton-style version without manifest: there is no recorded hash.
 */
export async function verifyRepository(
  repository: ModelRepository,
  only?: { model: string; version?: number },
): Promise<VerifyResult[]> {
  const models = only === undefined ? await repository.listModels() : [only.model];
  const results: VerifyResult[] = [];
  for (const model of models) {
    const versions = only?.version !== undefined ? [only.version] : await repository.listVersions(model);
    if (only !== undefined && versions.length === 0)
      throw new NotFoundError(`model "${model}" not found in the repository`);
    for (const version of versions) results.push(await verifyVersion(repository, model, version));
  }
  return results;
}

async function verifyVersion(
  repository: ModelRepository,
  model: string,
  version: number,
): Promise<VerifyResult> {
  let manifestBytes: Buffer | undefined;
  let artifact: Buffer | undefined;
  try {
    manifestBytes = await repository.readManifestBytes(model, version);
    artifact = await repository.readArtifact(model, version).catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
  } catch (err) {
    return { model, version, status: 'unreadable', detail: (err as Error).message };
  }
  if (artifact === undefined) {
    return {
      model,
      version,
      status: 'missing',
      detail:
        manifestBytes === undefined ? 'no manifest.json and no model.onnx' : `${ARTIFACT_FILE} is missing`,
    };
  }
  if (manifestBytes === undefined) {
    return {
      model,
      version,
      status: 'unverifiable',
      detail: `no ${MANIFEST_FILE}: no sha256 to check against`,
      bytes: artifact.byteLength,
    };
  }
  let manifest: Manifest;
  try {
    manifest = repository.parseManifestBytes(model, version, manifestBytes);
  } catch (err) {
    return { model, version, status: 'corrupt', detail: (err as Error).message };
  }
  const mismatch = artifactMismatch(manifest, artifact);
  return mismatch === undefined
    ? { model, version, status: 'ok', bytes: artifact.byteLength }
    : { model, version, status: 'corrupt', detail: mismatch };
}

export function formatVerify(results: VerifyResult[]): string {
  if (results.length === 0) return 'no versions to verify';
  return results
    .map(
      (result) =>
        `${result.status.toUpperCase().padEnd(12)} ${result.model}@${result.version}${result.detail ? `  ${result.detail}` : ''}`,
    )
    .join('\n');
}

/**
 * An MLflow model directory (ONNX flavor) as a modelfleet package: the signature is read from
 * the ONNX graph and cross-checked with MLmodel's; column names become `features`; an
 * `input_example.json` that fits becomes the sample.
 */
export async function importMlflow(
  dir: string,
  options: { name?: string; out: string },
): Promise<{ directory: string; manifest: Manifest }> {
  const mlflow = readMlflowModel(dir);
  const artifact = readFileSync(mlflow.onnxFile);
  const session = await createSession(artifact).catch((err: unknown) => {
    throw new MlflowImportError(
      `onnxruntime cannot load ${mlflow.onnxFile}: ${(err as Error).message.split('\n')[0]}`,
    );
  });
  let signature: ReturnType<typeof signatureOf>;
  try {
    signature = signatureOf(session);
  } finally {
    await session.release();
  }
  if (mlflow.tensorInputs !== undefined) {
    const problems = signatureProblems(mlflow.tensorInputs, signature.inputs);
    if (problems.length > 0)
      throw new MlflowImportError(`MLmodel signature disagrees with the ONNX model: ${problems.join('; ')}`);
  }
  const name = options.name ?? path.basename(path.resolve(dir));
  const sampleInputs =
    mlflow.example === undefined ? undefined : exampleAsSample(mlflow.example, signature.inputs);
  const pkg = await packageModel({
    name,
    artifact,
    ...(mlflow.columns === undefined ? {} : { features: mlflow.columns }),
    ...(sampleInputs === undefined ? {} : { sample: { inputs: sampleInputs, tolerance: DEFAULT_TOLERANCE } }),
    source: mlflow.source,
  });
  const directory = path.resolve(options.out);
  mkdirSync(directory, { recursive: true });
  writeFileSync(path.join(directory, ARTIFACT_FILE), pkg.artifact);
  writeFileSync(path.join(directory, MANIFEST_FILE), `${JSON.stringify(pkg.manifest, null, 2)}\n`);
  return { directory, manifest: pkg.manifest };
}

/** A one-line progress bar, redrawn in place; for terminals only. */
export function progressBar(stream: { write(text: string): unknown }, label: string) {
  let last = -1;
  return (sent: number, total: number) => {
    const fraction = total === 0 ? 1 : Math.min(1, sent / total);
    const percent = Math.floor(fraction * 100);
    if (percent === last) return;
    last = percent;
    const width = 30;
    const filled = Math.round(fraction * width);
    const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
    stream.write(
      `\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${String(percent).padStart(3)}% ${mb(sent)}/${mb(total)} MB${percent === 100 ? '\n' : ''}`,
    );
  };
}

function table(rows: string[][]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
