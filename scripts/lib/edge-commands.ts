import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NotFoundError } from '../../shared/errors';
import { deployedVersions } from '../../shared/repository/deployment';
import { artifactKey, deploymentKey, manifestKey } from '../../shared/repository/layout';
import { artifactMismatch, type ModelRepository } from '../../shared/repository/repository';
import { parseSigningKeys } from '../../shared/security/signing-keys';
import { buildEdgeBrowser, buildEdgePage, type EdgeBuild, writeEmbeddedFiles } from './edge-build';

/**
 * `modelfleet export-edge <model> [version] --out DIR`: a static folder that any static host or CDN
 * serves as is: the example page, the module and its WASM, and under models/ the model's versions
 * in the repository layout (plus the stage's deployment when no version is pinned), so the edge
 * reads and verifies them exactly as the server would. Exporting more models into the same folder
 * adds them to its models/index.json.
 */

export const EDGE_INDEX = 'index.json';

export interface EdgeIndex {
  stage: string;
  models: { name: string; version?: number; description?: string }[];
  /** Trusted public keys the page passes to load() (as MODEL_SIGNING_KEYS), when given. */
  signingKeys?: Record<string, string>;
}

export interface EdgeExport {
  out: string;
  model: string;
  versions: number[];
  stage: string;
  module: EdgeBuild;
}

export async function exportEdge(
  repository: ModelRepository,
  target: {
    model: string;
    version?: number;
    stage: string;
    out: string;
    signingKeys?: Record<string, string>;
  },
): Promise<EdgeExport> {
  const { model, stage, out } = target;
  const models = path.join(out, 'models');
  // Everything is read and checked before anything is written: a refused export leaves the folder as it was.
  const writes: [key: string, data: string | Uint8Array][] = [];
  let versions: number[];
  if (target.version === undefined) {
    const read = await repository.readDeployment(model, stage);
    if (read.status !== 'ok') {
      throw new NotFoundError(
        `model "${model}" is not deployed on stage "${stage}"; give a version or --stage`,
      );
    }
    versions = deployedVersions({ ...read.config, shadow: undefined });
    writes.push([deploymentKey(model, stage), `${JSON.stringify(read.config, null, 2)}\n`]);
  } else {
    versions = [target.version];
  }
  let description: string | undefined;
  for (const version of versions) {
    const manifestBytes = await repository.readManifestBytes(model, version);
    if (manifestBytes === undefined) {
      throw new NotFoundError(
        `model "${model}" has no manifest for version ${version}; the edge verifies against one`,
      );
    }
    const manifest = repository.parseManifestBytes(model, version, manifestBytes);
    const artifact = await repository.readArtifact(model, version);
    // Never ship a damaged artifact: the edge would refuse it anyway, after a download.
    const mismatch = artifactMismatch(manifest, artifact);
    if (mismatch !== undefined) throw new Error(`refusing to export: ${mismatch}`);
    description ??= manifest.description;
    // The bytes as published: the edge parses and verifies them as the server does.
    writes.push([manifestKey(model, version), manifestBytes], [artifactKey(model, version), artifact]);
  }
  const index = readIndex(path.join(models, EDGE_INDEX), stage);
  for (const [key, data] of writes) writeAt(models, key, data);
  const module = await buildEdgeBrowser(out);
  await buildEdgePage(out);
  const entry = {
    name: model,
    ...(target.version === undefined ? {} : { version: target.version }),
    ...(description === undefined ? {} : { description }),
  };
  index.models = [...index.models.filter((m) => m.name !== model), entry];
  if (target.signingKeys !== undefined) index.signingKeys = target.signingKeys;
  writeAt(models, EDGE_INDEX, `${JSON.stringify(index, null, 2)}\n`);
  writeEmbeddedFiles(out);
  return { out, model, versions, stage, module };
}

function readIndex(file: string, stage: string): EdgeIndex {
  let index: EdgeIndex;
  try {
    index = JSON.parse(readFileSync(file, 'utf8')) as EdgeIndex;
  } catch {
    return { stage, models: [] };
  }
  if (index.stage !== stage) {
    throw new Error(`${file} was exported for stage "${index.stage}", not "${stage}": use another --out`);
  }
  return index;
}

function writeAt(root: string, key: string, data: string | Uint8Array): void {
  const file = path.join(root, ...key.split('/'));
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, data);
}

export function formatEdgeExport(result: EdgeExport): string {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  return [
    `exported ${result.model} version${result.versions.length > 1 ? 's' : ''} ${result.versions.join(', ')} (stage ${result.stage}) to ${result.out}`,
    `module ${path.basename(result.module.module)}: ${kb(result.module.moduleBytes)} (plus ${result.module.wasm.map((w) => path.basename(w)).join(', ')})`,
    `serve the folder with any static server and open index.html`,
  ].join('\n');
}

export const EDGE_USAGE = `  export-edge <model> [version] --out DIR [--stage STAGE]
      A static folder (page, module, WASM, verified model) that runs the model in a browser; without
      a version, the stage's variants and deployment (the edge picks a variant as the server does).
      The page trusts the keys in MODEL_SIGNING_KEYS, when set.
`;

export interface EdgeCommandContext {
  values: { out?: string | undefined };
  env: Readonly<Record<string, string | undefined>>;
  repository: () => ModelRepository;
  stage: string;
  output: (human: string, data: unknown) => void;
  fail: (message: string) => never;
}

/** Runs an edge command; false when `command` is not one. */
export async function runEdgeCommand(
  command: string,
  args: string[],
  context: EdgeCommandContext,
): Promise<boolean> {
  if (command !== 'export-edge') return false;
  const { values, fail } = context;
  if (args.length < 1 || args.length > 2) fail('export-edge: expected <model> [version]');
  const [model = '', versionText] = args;
  if (values.out === undefined) fail('export-edge: --out DIR is required');
  const version = versionText === undefined ? undefined : Number(versionText);
  if (version !== undefined && !(Number.isInteger(version) && version > 0)) {
    fail(`export-edge: version must be a positive integer, got "${versionText}"`);
  }
  const keysText = context.env['MODEL_SIGNING_KEYS']?.trim();
  // Parsed only to fail early on a bad value; the page imports them itself with WebCrypto.
  parseSigningKeys(keysText);
  const result = await exportEdge(context.repository(), {
    model,
    stage: context.stage,
    out: path.resolve(values.out ?? ''),
    ...(version === undefined ? {} : { version }),
    ...(keysText === undefined || keysText === '' ? {} : { signingKeys: JSON.parse(keysText) }),
  });
  context.output(formatEdgeExport(result), result);
  return true;
}
