#!/usr/bin/env node
/**
 * modelfleet: the control-plane CLI. Every command works on a model repository named by
 * --repository, else MODEL_REPOSITORY, else ./model-repository.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseStoreSettings } from '../shared/config';
import { DEFAULT_TOLERANCE, packageModel } from '../shared/control/packaging';
import {
  type DeploymentConfig,
  promote,
  rollback,
  setCanary,
  setShadow,
  setSticky,
  setVariants,
} from '../shared/repository/deployment';
import { ARTIFACT_FILE, MANIFEST_FILE, type Manifest, parseManifest } from '../shared/repository/manifest';
import { ModelRepository, type VersionPackage } from '../shared/repository/repository';
import { openStore, StoreUnavailableError } from '../shared/store';
import { MONITOR_USAGE, readBaselineFile, runMonitor } from './lib/monitor-commands';
import {
  formatDeployment,
  formatManifest,
  formatModelList,
  formatVerify,
  importMlflow,
  listModels,
  progressBar,
  showDeployment,
  showVersion,
  verifyRepository,
} from './lib/storage-commands';
import { runSecurityCommand, SECURITY_USAGE } from './security-cli';

const USAGE = `usage: modelfleet <command> [options]

commands:
  package <model.onnx> --name NAME [--out DIR] [--sample FILE] [--features a,b,c] [--description TEXT] [--baseline data.csv|jsonl]
      Read the model's signature, hash it, run the sample, write DIR/{model.onnx,manifest.json}.
  publish <model.onnx | package-dir> [--name NAME] [--version N] [--promote] [--stage STAGE]
      Publish as the next (or the given) version; versions are immutable.
  promote <model> <version> [--stage STAGE]
      Send 100% of the stage's traffic to the version (keeps the previous as lastKnownGood).
  canary <model> <version> --weight N [--stage STAGE]
      Send N% (0-100) to the version as the canary; the primary keeps the rest. 0 removes it.
  split <model> NAME=VERSION:WEIGHT... [--stage STAGE]
      A/B/n test: e.g. "split churn a=1:50 b=2:30 c=3:20" (weights sum to 100).
  rollback <model> [--stage STAGE]
      Serve lastKnownGood again at once (undoes a promote or a canary).
  shadow <model> <version> --rate R | shadow <model> --off [--stage STAGE]
      Also run a sample R (0-1) of requests on the version and record how it agrees; never returned.
  sticky <model> (--header NAME | --field NAME) [--experiment ID] | sticky <model> --off
      Keep each client on one variant by hashing a header or body field with the experiment id.
  list [--stage STAGE]
      Models, their versions and what the stage serves.
  show <model> [version] [--stage STAGE]
      A version's manifest, or (without a version) the stage's deployment and its history.
  verify [model] [version]
      Re-download and re-hash every artifact against its manifest; exits 1 if any is bad.
  import-mlflow <mlflow-model-dir> [--name NAME] [--out DIR]
      Turn an MLflow model with an ONNX flavor (MLmodel + model.onnx) into a package for publish.
${MONITOR_USAGE}

repository URLs: file:///path (or a path), s3://bucket/prefix, az://account/container/prefix,
  gs://bucket/prefix — endpoints and credentials: see the README.

${SECURITY_USAGE}
common options:
  --repository URL   model repository (default: $MODEL_REPOSITORY or ./model-repository)
  --stage STAGE      deployment stage (default: $MODELFLEET_STAGE or local)
  --json             machine-readable output
  -h, --help         this help
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** `verify` found damaged versions: the report was printed, the exit status says so. */
export class VerifyFailedError extends Error {
  override name = 'VerifyFailedError';
}

const OPTIONS = {
  repository: { type: 'string' },
  stage: { type: 'string' },
  name: { type: 'string' },
  out: { type: 'string' },
  sample: { type: 'string' },
  features: { type: 'string' },
  description: { type: 'string' },
  tolerance: { type: 'string' },
  version: { type: 'string' },
  promote: { type: 'boolean' },
  weight: { type: 'string' },
  rate: { type: 'string' },
  off: { type: 'boolean' },
  header: { type: 'string' },
  field: { type: 'string' },
  experiment: { type: 'string' },
  json: { type: 'boolean' },
  key: { type: 'string' },
  'key-id': { type: 'string' },
  scopes: { type: 'string' },
  baseline: { type: 'string' },
  since: { type: 'string' },
  html: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];
type Print = (text: string) => void;

/** Where a progress bar may be drawn: only a terminal, and never in --json mode. */
export interface CliIo {
  progress?: { isTTY?: boolean; write(text: string): unknown };
}

export async function run(
  argv: string[],
  env: NodeJS.ProcessEnv,
  print: Print,
  io: CliIo = {},
): Promise<void> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    print(USAGE);
    return;
  }
  const repositoryUrl = values.repository ?? env['MODEL_REPOSITORY'] ?? path.resolve('model-repository');
  const stage = values.stage ?? env['MODELFLEET_STAGE'] ?? 'local';
  const repository = () =>
    new ModelRepository(openStore(repositoryUrl, parseStoreSettings(env), '--repository'));
  const output = (human: string, data: unknown) =>
    print(values.json === true ? JSON.stringify(data, null, 2) : human);

  switch (command) {
    case 'package': {
      const [file] = expectArgs(args, ['model.onnx']);
      const pkg = await packageFile(file, values);
      const outDir = path.resolve(values.out ?? `${pkg.manifest.name}-package`);
      mkdirSync(outDir, { recursive: true });
      writeFileSync(path.join(outDir, ARTIFACT_FILE), pkg.artifact);
      writeFileSync(path.join(outDir, MANIFEST_FILE), `${JSON.stringify(pkg.manifest, null, 2)}\n`);
      output(`packaged ${pkg.manifest.name} into ${outDir}\n${describeSignature(pkg.manifest)}`, {
        directory: outDir,
        manifest: pkg.manifest,
      });
      return;
    }
    case 'publish': {
      const [source] = expectArgs(args, ['model.onnx | package-dir']);
      const pkg = await loadPackage(source, values);
      const repo = repository();
      const onProgress =
        io.progress?.isTTY === true && values.json !== true
          ? progressBar(io.progress, `uploading ${pkg.manifest.name}/${ARTIFACT_FILE}`)
          : undefined;
      const version = await repo.publish(pkg, {
        ...(values.version === undefined ? {} : { version: positiveInt(values.version, '--version') }),
        ...(onProgress === undefined ? {} : { onProgress }),
      });
      let deployed = false;
      if (values.promote === true) {
        await repo.updateDeployment(pkg.manifest.name, stage, (current) =>
          promote(current, { model: pkg.manifest.name, stage, version }, new Date(), actor(env)),
        );
        deployed = true;
      }
      output(
        `published ${pkg.manifest.name} version ${version} to ${repo.store.url}${deployed ? `; stage ${stage} now serves it` : ''}`,
        { model: pkg.manifest.name, version, repository: repo.store.url, promoted: deployed, stage },
      );
      return;
    }
    case 'promote': {
      const [model, versionText] = expectArgs(args, ['model', 'version']);
      const version = positiveInt(versionText, 'version');
      const config = await repository().updateDeployment(model, stage, (current) =>
        promote(current, { model, stage, version }, new Date(), actor(env)),
      );
      output(`stage ${stage} of ${model} now serves version ${version} (100%)`, config);
      return;
    }
    case 'list': {
      expectArgs(args, []);
      const summaries = await listModels(repository(), stage);
      output(formatModelList(summaries, stage), summaries);
      return;
    }
    case 'show': {
      if (args.length < 1 || args.length > 2) throw new UsageError('expected <model> [version]');
      const [model = '', versionText] = args;
      if (versionText === undefined) {
        const config = await showDeployment(repository(), model, stage);
        output(formatDeployment(config), config);
      } else {
        const manifest = await showVersion(repository(), model, positiveInt(versionText, 'version'));
        output(formatManifest(manifest), manifest);
      }
      return;
    }
    case 'verify': {
      if (args.length > 2) throw new UsageError('expected [model] [version]');
      const [model, versionText] = args;
      const results = await verifyRepository(
        repository(),
        model === undefined
          ? undefined
          : { model, ...(versionText === undefined ? {} : { version: positiveInt(versionText, 'version') }) },
      );
      output(formatVerify(results), results);
      const bad = results.filter((result) => result.status !== 'ok' && result.status !== 'unverifiable');
      if (bad.length > 0) {
        throw new VerifyFailedError(`${bad.length} of ${results.length} versions failed verification`);
      }
      return;
    }
    case 'import-mlflow': {
      const [dir] = expectArgs(args, ['mlflow-model-dir']);
      const imported = await importMlflow(dir, {
        ...(values.name === undefined ? {} : { name: values.name }),
        ...(values.out === undefined ? {} : { out: values.out }),
      });
      output(
        `imported ${dir} as ${imported.manifest.name} into ${imported.directory}\n${describeSignature(imported.manifest)}\nnext: modelfleet publish ${imported.directory}`,
        imported,
      );
      return;
    }
    case 'monitor':
      await runMonitor(repository(), args, { ...values, stage }, print, usageError);
      return;
    case 'canary':
    case 'split':
    case 'rollback':
    case 'shadow':
    case 'sticky': {
      const config = await repository().updateDeployment(
        args[0] ?? '',
        stage,
        trafficChange(command, args, values, new Date(), actor(env)),
      );
      output(describeTraffic(config), config);
      return;
    }
    default:
      if (
        await runSecurityCommand(command, args, values, print, (message) => {
          throw new UsageError(message);
        })
      )
        return;
      throw new UsageError(`unknown command "${command}"`);
  }
}

function usageError(message: string): never {
  throw new UsageError(message);
}

function expectArgs<const N extends readonly string[]>(args: string[], names: N): { [K in keyof N]: string } {
  if (args.length !== names.length) {
    throw new UsageError(
      `expected ${names.map((name) => `<${name}>`).join(' ')}, got ${args.length} argument(s)`,
    );
  }
  return args as unknown as { [K in keyof N]: string };
}

function positiveInt(text: string, what: string): number {
  if (!/^[1-9]\d{0,8}$/.test(text))
    throw new UsageError(`${what}: expected a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

function readJsonFile(file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
}

async function packageFile(file: string, values: Values): Promise<VersionPackage> {
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const name = values.name ?? path.basename(file, path.extname(file));
  const sample =
    values.sample === undefined
      ? undefined
      : (readJsonFile(values.sample, '--sample') as Record<string, unknown>);
  if (sample !== undefined && !Array.isArray(sample['inputs'])) {
    throw new UsageError(
      `--sample: ${values.sample} needs an "inputs" array (OIP tensors) and optionally "outputs"`,
    );
  }
  const tolerance = values.tolerance === undefined ? undefined : Number(values.tolerance);
  if (tolerance !== undefined && !(tolerance >= 0))
    throw new UsageError(`--tolerance: expected a number >= 0`);
  return packageModel({
    name,
    artifact: readFileSync(file),
    ...(values.description === undefined ? {} : { description: values.description }),
    ...(values.features === undefined ? {} : { features: values.features.split(',').map((f) => f.trim()) }),
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
    ...(values.baseline === undefined ? {} : { baseline: readBaselineFile(values.baseline, usageError) }),
  });
}

/** A package directory (from `package`) or a bare .onnx file, packaged on the fly. */
async function loadPackage(source: string, values: Values): Promise<VersionPackage> {
  if (existsSync(source) && statSync(source).isDirectory()) {
    const manifestPath = path.join(source, MANIFEST_FILE);
    const manifest: Manifest = parseManifest(readJsonFile(manifestPath, 'package'), manifestPath);
    if (values.name !== undefined && values.name !== manifest.name) {
      throw new UsageError(`--name ${values.name} differs from the package's name ${manifest.name}`);
    }
    return { manifest, artifact: readFileSync(path.join(source, ARTIFACT_FILE)) };
  }
  return packageFile(source, values);
}

function describeSignature(manifest: Manifest): string {
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

/** The deployment change a traffic command asks for; arguments are checked before any read. */
function trafficChange(
  command: 'canary' | 'split' | 'rollback' | 'shadow' | 'sticky',
  args: string[],
  values: Values,
  now: Date,
  by: string,
): (current: DeploymentConfig | undefined) => DeploymentConfig {
  switch (command) {
    case 'canary': {
      const [, versionText] = expectArgs(args, ['model', 'version']);
      const version = positiveInt(versionText, 'version');
      if (values.weight === undefined) throw new UsageError('canary: --weight N (0-100) is required');
      if (!/^\d{1,3}$/.test(values.weight) || Number(values.weight) > 100) {
        throw new UsageError(
          `--weight: expected an integer from 0 to 100, got ${JSON.stringify(values.weight)}`,
        );
      }
      const weight = Number(values.weight);
      return (current) => setCanary(current, version, weight, now, by);
    }
    case 'split': {
      if (args.length < 2) throw new UsageError('split: expected <model> NAME=VERSION:WEIGHT ...');
      const variants = args.slice(1).map((spec) => {
        const match = /^([a-z0-9][a-z0-9_-]{0,31})=([1-9]\d{0,8}):(\d{1,3})$/.exec(spec);
        if (match === null) {
          throw new UsageError(
            `split: expected NAME=VERSION:WEIGHT (e.g. b=2:30), got ${JSON.stringify(spec)}`,
          );
        }
        return { name: match[1] ?? '', version: Number(match[2]), weight: Number(match[3]) };
      });
      return (current) => setVariants(current, variants, now, by);
    }
    case 'rollback':
      expectArgs(args, ['model']);
      return (current) => rollback(current, now, by);
    case 'shadow': {
      if (values.off === true) {
        expectArgs(args, ['model']);
        return (current) => setShadow(current, undefined, now, by);
      }
      const [, versionText] = expectArgs(args, ['model', 'version']);
      const version = positiveInt(versionText, 'version');
      const rate = values.rate === undefined ? Number.NaN : Number(values.rate);
      if (!(rate >= 0 && rate <= 1)) {
        throw new UsageError(
          `--rate: expected a number from 0 to 1, got ${JSON.stringify(values.rate ?? '')}`,
        );
      }
      return (current) => setShadow(current, { version, sampleRate: rate }, now, by);
    }
    case 'sticky': {
      const [model] = expectArgs(args, ['model']);
      if (values.off === true) return (current) => setSticky(current, undefined, now, by);
      if ((values.header === undefined) === (values.field === undefined)) {
        throw new UsageError('sticky: give exactly one of --header NAME or --field NAME (or --off)');
      }
      const sticky = {
        from: values.header === undefined ? ('field' as const) : ('header' as const),
        key: values.header ?? values.field ?? '',
        experiment: values.experiment ?? model,
      };
      return (current) => setSticky(current, sticky, now, by);
    }
  }
}

function describeTraffic(config: DeploymentConfig): string {
  const lines = [
    `stage ${config.stage} of ${config.model}: ${config.variants.map((v) => `${v.name} v${v.version} ${v.weight}%`).join(', ')}`,
  ];
  if (config.shadow !== undefined) {
    lines.push(`shadow: v${config.shadow.version} on ${config.shadow.sampleRate * 100}% of requests`);
  }
  if (config.sticky !== undefined) {
    lines.push(
      `sticky by ${config.sticky.from} "${config.sticky.key}" (experiment ${config.sticky.experiment})`,
    );
  }
  const fallback = config.lastKnownGood;
  if (fallback !== undefined) {
    lines.push(`rollback target: ${fallback.map((v) => `${v.name} v${v.version} ${v.weight}%`).join(', ')}`);
  }
  return lines.join('\n');
}

function actor(env: NodeJS.ProcessEnv): string {
  return env['MODELFLEET_ACTOR'] ?? env['USER'] ?? 'cli';
}

if (require.main === module) {
  run(process.argv.slice(2), process.env, (text) => process.stdout.write(`${text}\n`), {
    progress: process.stderr,
  }).catch((err: unknown) => {
    const message =
      err instanceof StoreUnavailableError
        ? `${err.message} (${err.detail})`
        : err instanceof Error
          ? err.message
          : String(err);
    process.stderr.write(`modelfleet: error: ${message}\n`);
    if (err instanceof UsageError) process.stderr.write(`run "modelfleet --help" for usage\n`);
    process.exit(err instanceof UsageError ? 2 : 1);
  });
}
