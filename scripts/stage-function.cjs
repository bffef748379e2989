'use strict';
// Stages what one Azure Function App or one Google Cloud Function runs, and nothing else: an
// esbuild bundle of the adapter and the core (as serverless-esbuild builds the Lambda zips), the
// packages that cannot be bundled copied from this checkout's node_modules (onnxruntime's
// linux/x64 build only, no dev dependency, no tests, types or docs), a package.json, and a zip
// checked against the same size limits as the Lambda packages (scripts/check-package.cjs).
// Offline on purpose: no az, gcloud or registry call; infra/<cloud>/deploy.sh uploads the result.
// CommonJS like check-package.cjs: it runs before any TypeScript build.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { checkPackages, LIMITS } = require('./check-package.cjs');

const ROOT = path.resolve(__dirname, '..');
const DEFAULT_OUT = path.join(ROOT, '.stage');

/** Everything an onnxruntime-node load needs on linux/x64 (its deps adm-zip and global-agent only serve its install script). */
const ONNXRUNTIME = [
  { name: 'onnxruntime-node', keep: ['package.json', 'LICENSE', 'dist', 'bin/napi-v6/linux/x64'] },
  { name: 'onnxruntime-common', keep: ['package.json', 'LICENSE', 'dist/cjs'] },
];

// zod builds the message of a document the hand-written checks refuse, nothing else, so it is
// required from vendor/ only then instead of compiled into every cold start (as on AWS:
// serverless.yml custom.esbuild.exclude). What its CommonJS entry loads.
const ZOD = {
  name: 'zod',
  keep: ['package.json', 'LICENSE', 'index.cjs', 'v4/classic', 'v4/core', 'v4/locales'],
};

// Store SDKs the cloud never uses (the core loads a driver only for its scheme): bundling them
// would only cost size and cold-start time, as on AWS (serverless.yml custom.esbuild.exclude).
const AWS_SDKS = ['@aws-sdk/client-s3', '@aws-sdk/lib-storage'];

/**
 * Per cloud: the function apps (one zip each: the guard runs under its own identity), the packages
 * required at run time from `vendor/node_modules` (native code, or a module the platform must share
 * with the app), what the platform provides, and what is left out.
 */
const CLOUDS = {
  azure: {
    apps: [
      { name: 'modelfleet', entry: 'functions/azure/index.ts' },
      // Written by the rollout-guard work (issue 15): a timer-trigger function `modelfleetGuard`.
      { name: 'guard', entry: 'functions/azure/guard.ts', optional: true },
      // The stream function app of infra/azure/stream.json (Event Hubs / Service Bus triggers).
      { name: 'stream', entry: 'functions/azure/stream.ts', optional: true },
    ],
    vendored: [
      ...ONNXRUNTIME,
      // Kept out of the bundle so the Functions worker and the app share one registry of triggers.
      { name: '@azure/functions', keep: ['package.json', 'LICENSE', 'dist/azure-functions.js'] },
      {
        name: '@azure/functions-extensions-base',
        keep: ['package.json', 'LICENSE', 'dist/azure-functions-extensions-base.js'],
      },
      { name: 'cookie', keep: ['package.json', 'LICENSE', 'index.js'] },
      ZOD,
    ],
    entryPackages: ['onnxruntime-node', '@azure/functions', 'zod'],
    // The worker injects this module into the app at run time.
    provided: ['@azure/functions-core'],
    leftOut: [...AWS_SDKS, '@google-cloud/storage'],
    extraFiles: { 'host.json': () => fs.readFileSync(path.join(ROOT, 'host.json'), 'utf8') },
    packageJson: (app) => ({ name: `modelfleet-${app.name}`, private: true, main: 'index.js' }),
  },
  gcp: {
    apps: [
      { name: 'modelfleet', entry: 'functions/gcp/index.ts' },
      // Written by the rollout-guard work (issue 15): exports the HTTP target `modelfleetGuard`.
      { name: 'guard', entry: 'functions/gcp/guard.ts', optional: true },
      // The CloudEvent target `modelfleetStream` of infra/gcp/stream/.
      { name: 'stream', entry: 'functions/gcp/stream.ts', optional: true },
    ],
    vendored: [...ONNXRUNTIME, ZOD],
    entryPackages: ['onnxruntime-node', 'zod'],
    // The buildpack installs package.json `dependencies` and starts this framework's CLI, which
    // loads the bundle: the bundle must register its target with that same module instance. Vendored
    // packages live under vendor/, where the buildpack's `npm install` cannot prune them.
    provided: ['@google-cloud/functions-framework'],
    leftOut: [...AWS_SDKS, '@azure/storage-blob', '@azure/identity'],
    extraFiles: {},
    packageJson: (app) => ({
      name: `modelfleet-${app.name}`,
      private: true,
      main: 'index.js',
      engines: { node: '>=20' },
      dependencies: {
        '@google-cloud/functions-framework': installedVersion('@google-cloud/functions-framework'),
      },
    }),
  },
};

/** Paths no staged zip may contain: other platforms' onnxruntime builds, tests, benchmarks, sources. */
const FORBIDDEN = [
  /onnxruntime-node\/bin\/napi-v\d+\/(darwin|win32)\//,
  /onnxruntime-node\/bin\/napi-v\d+\/linux\/arm64\//,
  /(^|\/)(test|tests|__tests__|bench|benchmarks?)\//,
  /\.(test|spec)\.[cm]?[jt]s$/,
  /(^|\/)model-repository\//,
  /\.ts$/,
];

function installedVersion(name) {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/** Requires of vendored packages point into vendor/node_modules; left-out SDKs stay unresolved. */
function resolvePlugin(cloud) {
  // The package and its subpaths (onnxruntime-node/dist/binding: shared/serving/native-session.ts).
  const vendoredEntry = new RegExp(`^(${cloud.entryPackages.map(escapeRegExp).join('|')})(/.*)?$`);
  return {
    name: 'modelfleet-stage',
    setup(build) {
      build.onResolve({ filter: vendoredEntry }, (args) => ({
        path: `./vendor/node_modules/${args.path}`,
        external: true,
      }));
      // Packages resolve as the `tsc` build's require() calls resolve them at run time: their
      // CommonJS builds. Their ESM builds may rely on import.meta.url, which a CJS bundle lacks
      // (@azure/storage-common's crc64 calls createRequire(import.meta.url) at load).
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (
          args.pluginData?.asRequire ||
          (args.kind !== 'import-statement' && args.kind !== 'dynamic-import')
        ) {
          return undefined;
        }
        const resolved = await build.resolve(args.path, {
          kind: 'require-call',
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: { asRequire: true },
        });
        if (resolved.errors.length > 0) return undefined;
        return {
          path: resolved.path,
          external: resolved.external,
          namespace: resolved.namespace,
          sideEffects: resolved.sideEffects,
        };
      });
    },
  };
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

async function bundle(cloud, app, dir) {
  const esbuild = require('esbuild');
  await esbuild.build({
    entryPoints: [path.join(ROOT, app.entry)],
    outfile: path.join(dir, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: false,
    sourcemap: true,
    // Source maps stay in the zip but are not switched on (≈ 40 ms per cold start; see
    // infra/aws/README.md): NODE_OPTIONS=--enable-source-maps in the app settings turns them on.
    sourcesContent: false,
    external: [...cloud.provided, ...cloud.leftOut],
    plugins: [resolvePlugin(cloud)],
    logLevel: 'warning',
    legalComments: 'none',
  });
}

function copyKept(pkg, vendorRoot) {
  const from = path.join(ROOT, 'node_modules', pkg.name);
  const to = path.join(vendorRoot, pkg.name);
  for (const item of pkg.keep) {
    const source = path.join(from, item);
    if (!fs.existsSync(source)) {
      if (item === 'LICENSE') continue;
      throw new Error(`${pkg.name}: ${item} is not installed in node_modules; run npm ci first`);
    }
    fs.cpSync(source, path.join(to, item), {
      recursive: true,
      filter: (file) => !/\.(d\.[cm]?ts|map|md)$/.test(file),
    });
  }
}

/** Lists a zip's entries (unzip is what the AWS packaging tests use too). */
function zipEntries(zipFile) {
  return execFileSync('unzip', ['-Z1', zipFile], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'));
}

function forbiddenEntries(entries) {
  return entries.filter((entry) => FORBIDDEN.some((pattern) => pattern.test(entry)));
}

/**
 * Stages every app of a cloud under `<out>/<cloud>/<app>/` and zips each to `<out>/<cloud>/<app>.zip`.
 * @param {'azure'|'gcp'} cloudName
 * @param {{ out?: string, limits?: { zipBytes?: number, unpackedBytes?: number }, log?: (line: string) => void }} [options]
 */
async function stage(cloudName, options = {}) {
  const cloud = CLOUDS[cloudName];
  if (cloud === undefined) throw new Error(`unknown cloud ${JSON.stringify(cloudName)}; use azure or gcp`);
  const log = options.log ?? ((line) => console.log(line));
  const cloudDir = path.join(options.out ?? DEFAULT_OUT, cloudName);
  fs.rmSync(cloudDir, { recursive: true, force: true });
  const staged = [];
  for (const app of cloud.apps) {
    if (!fs.existsSync(path.join(ROOT, app.entry))) {
      if (!app.optional) throw new Error(`${app.entry} does not exist`);
      log(`${cloudName}/${app.name}: skipped, ${app.entry} is not in this checkout`);
      continue;
    }
    const dir = path.join(cloudDir, app.name);
    fs.mkdirSync(dir, { recursive: true });
    await bundle(cloud, app, dir);
    for (const pkg of cloud.vendored) copyKept(pkg, path.join(dir, 'vendor', 'node_modules'));
    for (const [name, content] of Object.entries(cloud.extraFiles))
      fs.writeFileSync(path.join(dir, name), content());
    fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(cloud.packageJson(app), null, 2)}\n`);
    const zipFile = path.join(cloudDir, `${app.name}.zip`);
    // -X: no extra file attributes; entries relative to the app folder, as the platforms expect.
    execFileSync('zip', ['-r', '-X', '-q', zipFile, '.'], { cwd: dir });
    const bad = forbiddenEntries(zipEntries(zipFile));
    if (bad.length > 0)
      throw new Error(`${path.basename(zipFile)} contains files it must not:\n  ${bad.join('\n  ')}`);
    const [report] = checkPackages([zipFile], options.limits ?? LIMITS);
    log(`${cloudName}/${app.name}.zip: ${mb(report.zipBytes)} zipped, ${mb(report.unpackedBytes)} unpacked`);
    staged.push({ app: app.name, dir, zipFile, ...report });
  }
  return staged;
}

function mb(bytes) {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

module.exports = { CLOUDS, FORBIDDEN, forbiddenEntries, stage, zipEntries };

if (require.main === module) {
  // Usage: node scripts/stage-function.cjs <azure|gcp> [--out <folder>]
  const [cloudName, flag, out] = process.argv.slice(2);
  if (cloudName === undefined || (flag !== undefined && flag !== '--out') || (flag === '--out' && !out)) {
    console.error('usage: node scripts/stage-function.cjs <azure|gcp> [--out <folder>]');
    process.exit(2);
  }
  stage(cloudName, out === undefined ? {} : { out: path.resolve(out) }).catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
