#!/usr/bin/env node
/**
 * modelfleet: the control-plane CLI. Every command works on a model repository named by
 * --repository, else MODEL_REPOSITORY, else ./model-repository.
 *
 * Each command is one entry of COMMANDS (name, arguments, summary, typed options, run); the
 * parsing, `--help` per command and "did you mean" come from that entry (lib/command-line.ts),
 * the work itself from scripts/lib/*.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseStoreSettings } from '../shared/config';
import { type CliDefaults, checkedStage, parseCliDefaults } from '../shared/config/tools';
import { ConfigError, ConflictError } from '../shared/errors';
import { type DeploymentConfig, promote } from '../shared/repository/deployment';
import { ARTIFACT_FILE } from '../shared/repository/manifest';
import { ModelRepository } from '../shared/repository/repository';
import { openStore, StoreUnavailableError } from '../shared/store';
import { BATCH_OPTIONS, runBatchCommand } from './lib/batch-command';
import {
  type Command,
  closest,
  commandHelp,
  defineCommand,
  type OptionSpecs,
  parseCommandArgs,
  programHelp,
  REPOSITORY_OPTIONS,
  STAGE_OPTIONS,
  splitCommand,
  UsageError,
} from './lib/command-line';
import { runEdgeCommand } from './lib/edge-commands';
import {
  describeSignature,
  identicalVersion,
  loadPackage,
  PACKAGES_DIR,
  packageFile,
  writePackage,
} from './lib/model-commands';
import { runMonitor } from './lib/monitor-commands';
import { projectRoot } from './lib/paths';
import { GUARD_OPTIONS, ROLLOUT_OPTIONS, runRolloutCommand } from './lib/rollout-commands';
import { runSecurityCommand, SIGNING_KEYS_DIR } from './lib/security-commands';
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
import {
  canaryChange,
  describeTraffic,
  expectArgs,
  positiveInt,
  rollbackChange,
  shadowChange,
  splitChange,
  stickyChange,
} from './lib/traffic-commands';

export { UsageError } from './lib/command-line';

const PROGRAM = 'modelfleet';

/** `verify` found damaged versions: the report was printed, the exit status says so. */
export class VerifyFailedError extends Error {
  override name = 'VerifyFailedError';
}

type Print = (text: string) => void;

/** Where a progress bar may be drawn: only a terminal, and never in --json mode. */
export interface CliIo {
  progress?: { isTTY?: boolean; write(text: string): unknown };
}

/** What a command's run gets besides its own arguments. */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  print: Print;
  io: CliIo;
  json: boolean;
  /** Human text, or `data` as JSON under --json. */
  output(human: string, data: unknown): void;
  repository(): ModelRepository;
  /** --stage, else MODELFLEET_STAGE, else local; checked by the server's rule. */
  stage(): string;
  /** Who is recorded in a deployment's history. */
  actor: string;
}

const PACKAGE_OPTIONS = {
  name: { type: 'string', value: 'NAME', description: 'model name (default: the file name)' },
  sample: {
    type: 'string',
    value: 'FILE',
    description: 'sample {"inputs": [OIP tensors], "outputs"?: [...], "tolerance"?: n} to run and record',
  },
  features: { type: 'string', value: 'a,b,c', description: 'column names of a tabular model' },
  description: { type: 'string', value: 'TEXT', description: 'free text kept in the manifest' },
  tolerance: { type: 'string', value: 'N', description: 'allowed difference to the sample outputs' },
  baseline: {
    type: 'string',
    value: 'data.csv|jsonl',
    description: 'training rows: per-feature statistics kept in the manifest for drift (PSI)',
  },
} as const satisfies OptionSpecs;

const OUT_OPTION = {
  out: { type: 'string', value: 'DIR', description: `output folder (default ${PACKAGES_DIR}/<name>)` },
} as const satisfies OptionSpecs;

const TRAFFIC = { ...REPOSITORY_OPTIONS, ...STAGE_OPTIONS } as const;

const trafficCommand = <const O extends OptionSpecs>(
  command: Omit<Command<CliContext, O>, 'run'> & {
    change(
      args: string[],
      values: Parameters<Command<CliContext, O>['run']>[0]['values'],
      now: Date,
      by: string,
    ): (current: DeploymentConfig | undefined) => DeploymentConfig;
  },
) =>
  defineCommand<CliContext, O>({
    ...command,
    async run({ args, values }, cli) {
      const change = command.change(args, values, new Date(), cli.actor);
      const config = await cli.repository().updateDeployment(args[0] ?? '', cli.stage(), change);
      cli.output(describeTraffic(config), config);
    },
  });

export const COMMANDS = [
  defineCommand({
    name: 'package',
    args: '<model.onnx>',
    summary: "Read the model's signature, hash it, run the sample, write DIR/{model.onnx,manifest.json}.",
    details: `The package goes to --out, by default ${PACKAGES_DIR}/<name> (ignored by git).`,
    options: { ...PACKAGE_OPTIONS, ...OUT_OPTION },
    async run({ args, values }, cli: CliContext) {
      const [file] = expectArgs('package', args, ['model.onnx']);
      const pkg = await packageFile(file, values);
      const directory = writePackage(pkg, values.out ?? path.join(PACKAGES_DIR, pkg.manifest.name));
      cli.output(`packaged ${pkg.manifest.name} into ${directory}\n${describeSignature(pkg.manifest)}`, {
        directory,
        manifest: pkg.manifest,
      });
    },
  }),
  defineCommand({
    name: 'publish',
    args: '<model.onnx | package-dir>',
    summary: 'Publish as the next (or the given) version; versions are immutable.',
    details:
      'An artifact identical to an existing version of the model is refused (--force publishes it anyway).',
    options: {
      ...PACKAGE_OPTIONS,
      ...TRAFFIC,
      version: { type: 'string', value: 'N', description: 'publish as this version (must not exist)' },
      promote: { type: 'boolean', description: 'also send 100% of --stage to it' },
      force: { type: 'boolean', description: 'publish even if an existing version has the same artifact' },
    },
    async run({ args, values }, cli: CliContext) {
      const [source] = expectArgs('publish', args, ['model.onnx | package-dir']);
      const pkg = await loadPackage(source, values);
      const stage = values.promote === true ? cli.stage() : undefined;
      const requested = values.version === undefined ? undefined : positiveInt(values.version, '--version');
      const repo = cli.repository();
      const same = values.force === true ? undefined : await identicalVersion(repo, pkg);
      if (same !== undefined) {
        throw new ConflictError(
          `${pkg.manifest.name} version ${same} already has this artifact (sha256 ${pkg.manifest.artifact.sha256.slice(0, 12)}…); nothing published. Use "promote ${pkg.manifest.name} ${same}" to serve it, or --force to publish a copy`,
        );
      }
      const onProgress =
        cli.io.progress?.isTTY === true && !cli.json
          ? progressBar(cli.io.progress, `uploading ${pkg.manifest.name}/${ARTIFACT_FILE}`)
          : undefined;
      const version = await repo.publish(pkg, {
        ...(requested === undefined ? {} : { version: requested }),
        ...(onProgress === undefined ? {} : { onProgress }),
      });
      if (stage !== undefined) {
        await repo.updateDeployment(pkg.manifest.name, stage, (current) =>
          promote(current, { model: pkg.manifest.name, stage, version }, new Date(), cli.actor),
        );
      }
      cli.output(
        `published ${pkg.manifest.name} version ${version} to ${repo.store.url}${stage === undefined ? '' : `; stage ${stage} now serves it`}`,
        {
          model: pkg.manifest.name,
          version,
          repository: repo.store.url,
          promoted: stage !== undefined,
          stage: stage ?? cli.stage(),
        },
      );
    },
  }),
  defineCommand({
    name: 'promote',
    args: '<model> <version>',
    summary: "Send 100% of the stage's traffic to the version (keeps the previous as lastKnownGood).",
    options: TRAFFIC,
    async run({ args }, cli: CliContext) {
      const [model, versionText] = expectArgs('promote', args, ['model', 'version']);
      const version = positiveInt(versionText, 'version');
      const stage = cli.stage();
      const config = await cli
        .repository()
        .updateDeployment(model, stage, (current) =>
          promote(current, { model, stage, version }, new Date(), cli.actor),
        );
      cli.output(`stage ${stage} of ${model} now serves version ${version} (100%)`, config);
    },
  }),
  trafficCommand({
    name: 'canary',
    args: '<model> <version>',
    summary: 'Send N% (0-100) to the version as the canary; the primary keeps the rest. 0 removes it.',
    options: { ...TRAFFIC, weight: { type: 'string', value: 'N', description: 'percent for the canary' } },
    change: (args, values, now, by) => canaryChange(args, values.weight, now, by),
  }),
  trafficCommand({
    name: 'split',
    args: '<model> NAME=VERSION:WEIGHT...',
    summary: 'A/B/n test: e.g. "split churn a=1:50 b=2:30 c=3:20" (weights sum to 100).',
    options: TRAFFIC,
    change: (args, _values, now, by) => splitChange(args, now, by),
  }),
  trafficCommand({
    name: 'rollback',
    args: '<model>',
    summary: 'Serve lastKnownGood again at once (undoes a promote or a canary).',
    options: TRAFFIC,
    change: (args, _values, now, by) => rollbackChange(args, now, by),
  }),
  trafficCommand({
    name: 'shadow',
    args: '<model> [version]',
    summary: 'Also run a sample R (0-1) of requests on the version and record how it agrees; never returned.',
    details: 'shadow <model> <version> --rate R starts it; shadow <model> --off stops it.',
    options: {
      ...TRAFFIC,
      rate: { type: 'string', value: 'R', description: 'share of requests also run on the shadow (0-1)' },
      off: { type: 'boolean', description: 'remove the shadow' },
    },
    change: (args, values, now, by) => shadowChange(args, values, now, by),
  }),
  trafficCommand({
    name: 'sticky',
    args: '<model>',
    summary: 'Keep each client on one variant by hashing a header or body field with the experiment id.',
    options: {
      ...TRAFFIC,
      header: { type: 'string', value: 'NAME', description: 'request header that identifies a client' },
      field: { type: 'string', value: 'NAME', description: 'body field that identifies a client' },
      experiment: { type: 'string', value: 'ID', description: 'salt of the hash (default: the model)' },
      off: { type: 'boolean', description: 'stop sticky assignment' },
    },
    change: (args, values, now, by) => stickyChange(args, values, now, by),
  }),
  defineCommand({
    name: 'list',
    args: '',
    summary: 'Models, their versions and what the stage serves (shadow and sticky included).',
    options: TRAFFIC,
    async run({ args }, cli: CliContext) {
      expectArgs('list', args, []);
      const repository = cli.repository();
      const stage = cli.stage();
      const summaries = await listModels(repository, stage);
      cli.output(formatModelList(summaries, stage, repository.store.url), summaries);
    },
  }),
  defineCommand({
    name: 'show',
    args: '<model> [version]',
    summary: "A version's manifest, or (without a version) the stage's deployment and its history.",
    options: TRAFFIC,
    async run({ args }, cli: CliContext) {
      if (args.length < 1 || args.length > 2)
        throw new UsageError('show: expected <model> [version]', 'show');
      const [model = '', versionText] = args;
      if (versionText === undefined) {
        const config = await showDeployment(cli.repository(), model, cli.stage());
        cli.output(formatDeployment(config), config);
      } else {
        const manifest = await showVersion(cli.repository(), model, positiveInt(versionText, 'version'));
        cli.output(formatManifest(manifest), manifest);
      }
    },
  }),
  defineCommand({
    name: 'verify',
    args: '[model] [version]',
    summary: 'Re-download and re-hash every artifact against its manifest; exits 1 if any is bad.',
    options: REPOSITORY_OPTIONS,
    async run({ args }, cli: CliContext) {
      if (args.length > 2) throw new UsageError('verify: expected [model] [version]', 'verify');
      const [model, versionText] = args;
      const results = await verifyRepository(
        cli.repository(),
        model === undefined
          ? undefined
          : { model, ...(versionText === undefined ? {} : { version: positiveInt(versionText, 'version') }) },
      );
      cli.output(formatVerify(results), results);
      const bad = results.filter((result) => result.status !== 'ok' && result.status !== 'unverifiable');
      if (bad.length > 0) {
        throw new VerifyFailedError(`${bad.length} of ${results.length} versions failed verification`);
      }
    },
  }),
  defineCommand({
    name: 'import-mlflow',
    args: '<mlflow-model-dir>',
    summary: 'Turn an MLflow model with an ONNX flavor (MLmodel + model.onnx) into a package for publish.',
    details: `The package goes to --out, by default ${PACKAGES_DIR}/<name> (ignored by git).`,
    options: { name: PACKAGE_OPTIONS.name, ...OUT_OPTION },
    async run({ args, values }, cli: CliContext) {
      const [dir] = expectArgs('import-mlflow', args, ['mlflow-model-dir']);
      const name = values.name ?? path.basename(path.resolve(dir));
      const imported = await importMlflow(dir, { name, out: values.out ?? path.join(PACKAGES_DIR, name) });
      cli.output(
        `imported ${dir} as ${imported.manifest.name} into ${imported.directory}\n${describeSignature(imported.manifest)}\nnext: modelfleet publish ${imported.directory}`,
        imported,
      );
    },
  }),
  defineCommand({
    name: 'monitor',
    args: '<model>',
    summary:
      'Per-variant traffic, errors, latency, accuracy and drift (PSI) from captured requests and feedback.',
    details: "--html writes a self-contained page with the dashboard's plots.",
    options: {
      ...TRAFFIC,
      since: { type: 'string', value: 'DURATION', description: 'how far back to read (default 24h)' },
      html: { type: 'string', value: 'FILE', description: 'also write the report as a page' },
    },
    async run({ args, values }, cli: CliContext) {
      const fail = (message: string): never => {
        throw new UsageError(message, 'monitor');
      };
      await runMonitor(
        cli.repository(),
        args,
        {
          stage: cli.stage(),
          json: cli.json,
          ...(values.since === undefined ? {} : { since: values.since }),
          ...(values.html === undefined ? {} : { html: values.html }),
        },
        cli.print,
        fail,
      );
    },
  }),
  defineCommand({
    name: 'rollout',
    args: '<model> <version> | status|pause|resume|abort <model>',
    summary:
      "Start a managed rollout (a guard advances or rolls it back by the canary's metrics), or steer one.",
    details:
      'Starts a canary at the first step; after each healthy bake the guard moves it to the next (100 = promoted) or rolls it back. canary/promote/rollback/split cancel it. status --wait exits 0 when promoted, 1 when rolled back, aborted or cancelled.',
    options: { ...TRAFFIC, ...ROLLOUT_OPTIONS },
    async run({ args, values }, cli: CliContext) {
      await runRolloutCommand('rollout', args, values, rolloutContext(cli, 'rollout'));
    },
  }),
  defineCommand({
    name: 'guard',
    args: '[model]',
    summary: 'Judge every rollout of the stage once (--once, for any cron) or every --interval.',
    options: { ...TRAFFIC, ...GUARD_OPTIONS },
    async run({ args, values }, cli: CliContext) {
      await runRolloutCommand('guard', args, values, rolloutContext(cli, 'guard'));
    },
  }),
  defineCommand({
    name: 'export-edge',
    args: '<model> [version]',
    summary: 'Write a static folder (page, module, WASM, verified model) that runs the model in a browser.',
    details:
      "Without a version: the stage's variants and deployment (the edge picks a variant as the server does). The page trusts the keys in MODEL_SIGNING_KEYS, when set.",
    options: {
      ...REPOSITORY_OPTIONS,
      ...STAGE_OPTIONS,
      out: { type: 'string', value: 'DIR', description: 'the folder to write (required)' },
    },
    async run({ args, values }, cli: CliContext) {
      const fail = (message: string): never => {
        throw new UsageError(message, 'export-edge');
      };
      await runEdgeCommand('export-edge', args, {
        values,
        env: cli.env,
        repository: cli.repository,
        stage: cli.stage(),
        output: cli.output,
        fail,
      });
    },
  }),
  defineCommand({
    name: 'batch',
    args: '<input.csv|jsonl | URL>',
    summary: 'Score a file of rows (local or in a store) into a folder of predictions, in order; resumable.',
    details:
      "Rows: CSV with a header, or JSON lines (flat rows by the manifest's features or input names, or one OIP / TF-Serving / MLflow request per line). --out gets part-NNNNN.jsonl (one line per row, null for a failed row), errors.jsonl and _SUCCESS.json; run the same command again to resume a stopped job.",
    options: { ...TRAFFIC, ...BATCH_OPTIONS },
    async run({ args, values }, cli: CliContext) {
      await runBatchCommand(args, values, {
        env: cli.env,
        repository: cli.repository,
        stage: cli.stage(),
        output: cli.output,
        progress: cli.io.progress,
        json: cli.json,
        fail: (message) => {
          throw new UsageError(message, 'batch');
        },
      });
    },
  }),
  securityCommand(
    'hash-key',
    '[KEY]',
    'Print the sha256 of an API key (read from stdin when not given) and its API_KEYS entry.',
    {
      name: { type: 'string', value: 'NAME', description: 'key name in the API_KEYS entry' },
      scopes: {
        type: 'string',
        value: 'predict+admin',
        description: 'scopes joined by "+" (default predict)',
      },
    },
  ),
  securityCommand(
    'new-key',
    '',
    'Make a random API key; prints it once, with the API_KEYS entry that holds only its hash.',
    {
      name: { type: 'string', value: 'NAME', description: 'key name (required)' },
      scopes: {
        type: 'string',
        value: 'predict+admin',
        description: 'scopes joined by "+" (default predict)',
      },
    },
  ),
  securityCommand(
    'keygen',
    '',
    'Make an Ed25519 key pair for signing manifests: DIR/ID.key (private) and DIR/ID.pub.',
    {
      'key-id': { type: 'string', value: 'ID', description: 'key id (required)' },
      out: {
        type: 'string',
        value: 'DIR',
        description: `folder (default ${SIGNING_KEYS_DIR}, ignored by git)`,
      },
    },
  ),
  securityCommand(
    'sign',
    '<manifest.json | package-dir>',
    'Sign a manifest in place; serving checks it against MODEL_SIGNING_KEYS.',
    {
      key: {
        type: 'string',
        value: 'PRIVATE.key',
        description: 'the private key keygen wrote (not the .pub)',
      },
      'key-id': { type: 'string', value: 'ID', description: 'the id the server knows the public key by' },
    },
  ),
];

function rolloutContext(cli: CliContext, name: string) {
  return {
    repository: cli.repository,
    stage: cli.stage(),
    env: cli.env,
    actor: cli.actor,
    json: cli.json,
    output: cli.output,
    usage: (message: string) => new UsageError(message, name),
  };
}

function securityCommand<const O extends OptionSpecs>(
  name: string,
  args: string,
  summary: string,
  options: O,
) {
  return defineCommand<CliContext, O>({
    name,
    args,
    summary,
    options,
    async run(call, cli) {
      const fail = (message: string): never => {
        throw new UsageError(message, name);
      };
      await runSecurityCommand(name, call.args, { ...call.values, json: cli.json }, cli.print, fail);
    },
  });
}

const FOOTER = `
repository URLs: file:///path (or a path), s3://bucket/prefix, az://account/container/prefix,
  gs://bucket/prefix (endpoints and credentials: see the README).
exit status: 0 done, 1 failed, 2 usage error.
-V, --version prints the version.`;

const table = COMMANDS as unknown as readonly Command<CliContext, OptionSpecs>[];

export async function run(
  argv: string[],
  env: NodeJS.ProcessEnv,
  print: Print,
  io: CliIo = {},
): Promise<void> {
  const { command: name, rest } = splitCommand(
    argv,
    Object.keys({ ...REPOSITORY_OPTIONS, ...STAGE_OPTIONS }),
  );
  if (name === undefined) {
    if (rest.includes('--version') || rest.includes('-V')) return print(`${PROGRAM} ${packageVersion()}`);
    const unknown = rest.find((word) => !['-h', '--help', '--json'].includes(word));
    if (unknown !== undefined) throw new UsageError(`expected a command, got ${unknown}`);
    return print(programHelp(PROGRAM, table, FOOTER));
  }
  if (name === 'help') {
    const topic = rest[0];
    const command = topic === undefined ? undefined : findCommand(topic);
    return print(command === undefined ? programHelp(PROGRAM, table, FOOTER) : commandHelp(PROGRAM, command));
  }
  const command = findCommand(name);
  const { args, values } = parseCommandArgs(command, rest);
  if (values.help === true) return print(commandHelp(PROGRAM, command));
  const json = values.json === true;
  const loose = values as Record<string, string | boolean | undefined>;
  const defaults = parseCliDefaults(env);
  const context: CliContext = {
    env,
    print,
    io,
    json,
    output: (human, data) => print(json ? JSON.stringify(data, null, 2) : human),
    repository: () =>
      new ModelRepository(
        openStore(
          (loose['repository'] as string | undefined) || defaults.repository,
          parseStoreSettings(env),
          '--repository',
        ),
      ),
    stage: () => stageOf(loose['stage'] as string | undefined, defaults),
    actor: defaults.actor,
  };
  await command.run({ args, values }, context);
}

function findCommand(name: string): Command<CliContext, OptionSpecs> {
  const command = table.find((entry) => entry.name === name);
  if (command !== undefined) return command;
  const guess = closest(
    name,
    table.map((entry) => entry.name),
  );
  throw new UsageError(`unknown command "${name}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`);
}

/** A bad stage is a usage error (exit 2), named as the user gave it. */
function stageOf(option: string | undefined, defaults: CliDefaults): string {
  try {
    return checkedStage(option, defaults);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

function packageVersion(): string {
  const json = JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as {
    version?: string;
  };
  return json.version ?? 'unknown';
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
    if (err instanceof UsageError) {
      const help = err.command === undefined ? 'modelfleet --help' : `modelfleet ${err.command} --help`;
      process.stderr.write(`run "${help}" for usage\n`);
    }
    process.exit(err instanceof UsageError ? 2 : 1);
  });
}
