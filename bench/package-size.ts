/**
 * Section 5: size of each function zip from `sls package --stage prod` (offline: osls, dummy
 * credentials, onnxruntime's CUDA download skipped) and the time to load the bundled handler: its
 * `require`, and for the inference function also until it answers a health probe (the entry only
 * starts the init; the rest of the modules load after `require` returns).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildEdgeBrowser, buildEdgeNode } from '../scripts/lib/edge-build';
import { summarize } from './stats';

export interface PackageRow {
  zip: string;
  zippedBytes: number;
  unpackedBytes: number;
  /** Median time to require the bundled handler in a fresh process, in ms. */
  moduleLoadMs: number;
  /** Median time from the require to the answer to GET /v2/health/live (inference only), in ms. */
  readyMs?: number;
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
    execFileSync('npx', ['sls', 'package', '--stage', 'prod', '--package', out], {
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
        .find((name) => name.endsWith('.js'));
      const times: number[] = [];
      const ready: number[] = [];
      const probe = zip.startsWith('infer');
      // The probe goes through the handler as an HTTP API event; stdout carries one JSON line.
      const script = `const t=performance.now();const m=require(${JSON.stringify(path.join(unpacked, 'functions', handler ?? ''))});const r=performance.now()-t;${
        probe
          ? "m.handler({version:'2.0',rawPath:'/v2/health/live',rawQueryString:'',headers:{},requestContext:{http:{method:'GET',sourceIp:'127.0.0.1'}},isBase64Encoded:false},{}).then((res)=>{if(res.statusCode!==200)throw new Error(JSON.stringify(res));process.stdout.write('\\n'+JSON.stringify({r,ready:performance.now()-t})+'\\n')})"
          : "process.stdout.write('\\n'+JSON.stringify({r})+'\\n')"
      }`;
      for (let i = 0; handler !== undefined && i < loads; i++) {
        const run = spawnSync(process.execPath, ['-e', script], {
          cwd: unpacked,
          env: {
            ...process.env,
            MODEL_REPOSITORY: repositoryDir,
            MODELFLEET_STAGE: 'bench',
            // What serverless.yml gives the stream function: its entry checks its sink at load.
            STREAM_SINK: 'none',
            NODE_OPTIONS: '',
          },
        });
        const line = run.stdout
          .toString()
          .split('\n')
          .find((l) => l.startsWith('{"r"'));
        if (line === undefined) throw new Error(`${zip}: ${run.stderr.toString().slice(0, 500)}`);
        const measured = JSON.parse(line) as { r: number; ready?: number };
        times.push(measured.r);
        if (measured.ready !== undefined) ready.push(measured.ready);
      }
      rows.push({
        zip,
        zippedBytes: statSync(path.join(out, zip)).size,
        unpackedBytes: folderBytes(unpacked),
        moduleLoadMs: summarize(times).p50,
        ...(ready.length > 0 ? { readyMs: summarize(ready).p50 } : {}),
      });
    }
    return rows;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

export interface EdgeModuleRow {
  build: 'browser' | 'node';
  file: string;
  bytes: number;
  gzipBytes: number;
  /** onnxruntime-web's glue and WASM loaded beside the module (not part of its size). */
  wasmBytes: number;
}

/** Size of the modelfleet-edge bundles (issue 20), without and beside their WASM files. */
export async function measureEdgeModules(): Promise<EdgeModuleRow[]> {
  const out = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-edge-size-'));
  try {
    const builds = [
      { build: 'browser' as const, result: await buildEdgeBrowser(path.join(out, 'browser')) },
      { build: 'node' as const, result: await buildEdgeNode(path.join(out, 'node')) },
    ];
    return builds.map(({ build, result }) => ({
      build,
      file: path.basename(result.module),
      bytes: result.moduleBytes,
      gzipBytes: gzipSync(readFileSync(result.module)).byteLength,
      wasmBytes: result.wasm.reduce((sum, file) => sum + statSync(file).size, 0),
    }));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
