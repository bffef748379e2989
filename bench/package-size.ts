/**
 * Section 5: size of each function zip from `sls package` (offline: osls, dummy credentials,
 * onnxruntime's CUDA download skipped) and the time to load the bundled handler module.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarize } from './stats';

export interface PackageRow {
  zip: string;
  zippedBytes: number;
  unpackedBytes: number;
  /** Median time to require the bundled handler in a fresh process, in ms. */
  moduleLoadMs: number;
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? folderBytes(full) : statSync(full).size;
  }
  return total;
}

export function measurePackages(root: string, repositoryDir: string, loads: number): PackageRow[] {
  const out = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-package-'));
  try {
    execFileSync('npx', ['sls', 'package', '--stage', 'dev', '--package', out], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        SLS_TELEMETRY_DISABLED: '1',
        AWS_ACCESS_KEY_ID: 'AKIDUMMY',
        AWS_SECRET_ACCESS_KEY: 'dummy',
        ONNXRUNTIME_NODE_INSTALL: 'skip',
      },
      timeout: 240_000,
    });
    const rows: PackageRow[] = [];
    for (const zip of readdirSync(out).filter((name) => name.endsWith('.zip'))) {
      const unpacked = path.join(out, `${zip}.d`);
      execFileSync('unzip', ['-q', path.join(out, zip), '-d', unpacked]);
      const handler = readdirSync(path.join(unpacked, 'functions'), { recursive: true })
        .map(String)
        .find((name) => name.endsWith('handler.js'));
      const times: number[] = [];
      for (let i = 0; handler !== undefined && i < loads; i++) {
        const run = spawnSync(
          process.execPath,
          [
            '-e',
            `const t=performance.now();require(${JSON.stringify(path.join(unpacked, 'functions', handler))});process.stdout.write(String(performance.now()-t))`,
          ],
          {
            cwd: unpacked,
            env: { ...process.env, MODEL_REPOSITORY: repositoryDir, MODELFLEET_STAGE: 'bench' },
          },
        );
        times.push(Number(run.stdout.toString()));
      }
      rows.push({
        zip,
        zippedBytes: statSync(path.join(out, zip)).size,
        unpackedBytes: folderBytes(unpacked),
        moduleLoadMs: summarize(times).p50,
      });
    }
    return rows;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
