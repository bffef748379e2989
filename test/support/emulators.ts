import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export const S3_TEST_BUCKET = 'modelfleet-test';
export const AZURE_TEST_CONTAINER = 'modelfleet-test';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

export interface RunningEmulator {
  endpoint: string;
  stop(): Promise<void>;
}

/** s3rver (a real S3 API server over HTTP) in this process, with the test bucket created. */
export async function startS3rver(bucket = S3_TEST_BUCKET, port?: number): Promise<RunningEmulator> {
  // s3rver is plain JS without types.
  const S3rver = require('s3rver') as new (
    options: Record<string, unknown>,
  ) => { run(): Promise<unknown>; close(): Promise<void> };
  const directory = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-s3rver-'));
  const chosen = port ?? (await freePort());
  const server = new S3rver({
    address: '127.0.0.1',
    port: chosen,
    directory,
    silent: true,
    configureBuckets: [{ name: bucket }],
  });
  await server.run();
  return {
    endpoint: `http://127.0.0.1:${chosen}`,
    stop: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

export function azuriteConnectionString(endpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`;
}

/** Azurite's blob service as a child process (its own process group, so teardown can stop it). */
export async function startAzurite(): Promise<RunningEmulator & { child: ChildProcess }> {
  const location = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-azurite-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js'),
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--location',
      location,
      '--silent',
      '--disableTelemetry',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await untilPrinted(child, /successfully listens/, 'Azurite');
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  return {
    endpoint,
    child,
    stop: () => stopChild(child, location, ['SIGTERM']),
  };
}

/**
 * s3rver in a child process of its own, for tests that freeze the store (SIGSTOP/SIGCONT): the
 * connection stays open and nothing answers, as with a hung store. `stop` resumes and ends it.
 */
export async function startS3rverProcess(bucket: string): Promise<RunningEmulator & { child: ChildProcess }> {
  const directory = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-s3rver-'));
  const port = await freePort();
  const script = `
    const S3rver = require(${JSON.stringify(path.join(ROOT, 'node_modules', 's3rver'))});
    new S3rver({ address: '127.0.0.1', port: ${port}, directory: ${JSON.stringify(directory)}, silent: true,
      configureBuckets: [{ name: ${JSON.stringify(bucket)} }] }).run().then(() => console.log('s3rver ready'));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  await untilPrinted(child, /s3rver ready/, 's3rver');
  return {
    endpoint: `http://127.0.0.1:${port}`,
    child,
    // SIGCONT first: a stopped process does not act on SIGKILL's exit until it runs again.
    stop: () => stopChild(child, directory, ['SIGCONT', 'SIGKILL']),
  };
}

/** Resolves when the child has printed `ready` (stdout or stderr); rejects if it exits first. */
function untilPrinted(child: ChildProcess, ready: RegExp, name: string): Promise<void> {
  let output = '';
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${output}`));
    });
  });
}

/** Ends the child with `signals` in order and removes its data folder once it has exited. */
function stopChild(child: ChildProcess, folder: string, signals: NodeJS.Signals[]): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      rmSync(folder, { recursive: true, force: true });
      resolve();
    };
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once('exit', done);
    for (const signal of signals) child.kill(signal);
  });
}
