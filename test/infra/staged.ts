import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from '../support/fixtures';
import { ROOT, type Started, startUntil } from '../support/processes';

export type Cloud = 'azure' | 'gcp';

export interface StagedApp {
  app: string;
  dir: string;
  zipFile: string;
  zipBytes: number;
  unpackedBytes: number;
  entries: number;
}

interface StageModule {
  stage(
    cloud: Cloud,
    options: {
      out: string;
      log: (line: string) => void;
      limits?: { zipBytes?: number; unpackedBytes?: number };
    },
  ): Promise<StagedApp[]>;
  zipEntries(zipFile: string): string[];
  FORBIDDEN: RegExp[];
}

// The staging script is CommonJS (it runs before any build); loaded as the deploy command loads it.
export const stageModule = require(path.join(ROOT, 'scripts', 'stage-function.cjs')) as StageModule;

const staged = new Map<Cloud, Promise<{ apps: StagedApp[]; log: string[] }>>();

/**
 * Runs `npm run stage:<cloud>`'s code once per test run: the first test file to ask stages into the
 * run's temporary folder, files in other workers wait for its result (staging is CPU-heavy, and
 * the machine is shared).
 */
export function stageOnce(cloud: Cloud): Promise<{ apps: StagedApp[]; log: string[] }> {
  let running = staged.get(cloud);
  if (running === undefined) {
    running = stageShared(cloud);
    staged.set(cloud, running);
  }
  return running;
}

async function stageShared(cloud: Cloud): Promise<{ apps: StagedApp[]; log: string[] }> {
  const root = process.env['MODELFLEET_TEST_RUN_TEMP'] ?? tempDir('modelfleet-stage-');
  const out = path.join(root, `staged-${cloud}`);
  const result = path.join(root, `staged-${cloud}.json`);
  try {
    mkdirSync(out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return waitForStaging(result);
  }
  const log: string[] = [];
  try {
    const apps = await stageModule.stage(cloud, { out, log: (line) => log.push(line) });
    writeFileSync(result, JSON.stringify({ apps, log }));
    return { apps, log };
  } catch (err) {
    writeFileSync(result, JSON.stringify({ error: (err as Error).message }));
    throw err;
  }
}

async function waitForStaging(result: string): Promise<{ apps: StagedApp[]; log: string[] }> {
  const deadline = Date.now() + 180_000;
  while (!existsSync(result)) {
    if (Date.now() > deadline) throw new Error(`another test worker did not finish staging (${result})`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const parsed = JSON.parse(readFileSync(result, 'utf8')) as {
    apps: StagedApp[];
    log: string[];
    error?: string;
  };
  if (parsed.error !== undefined) throw new Error(`staging failed in another test worker: ${parsed.error}`);
  return parsed;
}

export async function stagedApp(cloud: Cloud, name = 'modelfleet'): Promise<StagedApp> {
  const { apps } = await stageOnce(cloud);
  const app = apps.find((candidate) => candidate.app === name);
  if (app === undefined) throw new Error(`${cloud} staged no app named ${name}`);
  return app;
}

let loopback: Promise<string> | undefined;

/** functions/gcp/loopback.ts built to plain JS: binds the framework to 127.0.0.1 (tests only). */
function loopbackPreload(): Promise<string> {
  loopback ??= (async () => {
    const esbuild = require('esbuild') as typeof import('esbuild');
    const outfile = path.join(tempDir('modelfleet-loopback-'), 'loopback.js');
    await esbuild.build({
      entryPoints: [path.join(ROOT, 'functions', 'gcp', 'loopback.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      logLevel: 'error',
    });
    return outfile;
  })();
  return loopback;
}

export type RunningStagedApp = Started & { base: string };

/**
 * Starts a staged app as its platform would and resolves with its 127.0.0.1 address.
 * Azure: the host stand-in loads the folder (package.json main, its own @azure/functions).
 * GCP: the functions-framework CLI with `--source <folder>`, after linking the one package the
 * buildpack installs from the staged package.json (the framework itself) — nothing else.
 */
export async function startStaged(
  cloud: Cloud,
  appDir: string,
  env: NodeJS.ProcessEnv,
  target = 'modelfleet',
): Promise<RunningStagedApp> {
  const ready = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
  let started: Started & { match: RegExpMatchArray };
  if (cloud === 'azure') {
    const standIn = path.join(ROOT, 'test', 'infra', 'support', 'azure-host-stand-in.cjs');
    started = await startUntil('node', [standIn, appDir], env, ready, 60_000);
  } else {
    const framework = path.join(appDir, 'node_modules', '@google-cloud', 'functions-framework');
    mkdirSync(path.dirname(framework), { recursive: true });
    try {
      symlinkSync(path.join(ROOT, 'node_modules', '@google-cloud', 'functions-framework'), framework, 'dir');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const args = [
      '--require',
      await loopbackPreload(),
      path.join(framework, 'build', 'src', 'main.js'),
      '--target',
      target,
      // What Cloud Functions passes for a function without an event trigger (the stream module's
      // target too): a target the bundle registers declaratively keeps its own signature type.
      '--signature-type',
      'http',
      '--source',
      appDir,
    ];
    started = await startUntil('node', args, { PORT: '0', ...env }, ready, 60_000);
  }
  return { ...started, base: started.match[1] ?? '' };
}
