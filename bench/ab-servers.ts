/**
 * Before/after of a change to a server's throughput: the minimal server, the server of another
 * build and this build's, served side by side in interleaved one-second slices (section 4's
 * `measureThroughput`), tabular model, ratios to the minimal server.
 *
 *   git archive <commit> | tar -x -C /tmp/before && ln -s "$PWD/node_modules" /tmp/before/
 *   (cd /tmp/before && npx tsc -p tsconfig.bench.json)
 *   npx tsc -p tsconfig.bench.json && AB_BEFORE=/tmp/before/dist node dist/bench/ab-servers.js
 *
 * AB_KIND: `local` (the local server against the minimal node:http server, default) or `gcp` (the
 * GCP function against the minimal function on functions-framework). AB_LEVELS (connections,
 * default 1,16,64), AB_SLICES (one-second slices per server and level, default 6).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH_SECURITY_ENV, benchRepository, jsonRequest, tabularModel } from './models';
import { measureThroughput, type ServerSpec } from './throughput';

async function main(): Promise<void> {
  const before = process.env['AB_BEFORE'];
  if (before === undefined) throw new Error('AB_BEFORE: the dist/ directory of the build to compare with');
  const kind = process.env['AB_KIND'] ?? 'local';
  if (kind !== 'local' && kind !== 'gcp') throw new Error(`AB_KIND: expected local or gcp, got ${kind}`);
  const levels = (process.env['AB_LEVELS'] ?? '1,16,64').split(',').map(Number);
  const slices = Number(process.env['AB_SLICES'] ?? 6);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-ab-servers-'));
  try {
    const model = tabularModel();
    await benchRepository(dir, [model]);
    const modelFile = path.join(dir, 'model.onnx');
    writeFileSync(modelFile, model.artifact);
    const server = kind === 'gcp' ? 'gcp' : 'modelfleet-local';
    const modelfleetEnv = { ...BENCH_SECURITY_ENV, MODEL_REPOSITORY: dir };
    const route = `/v2/models/${model.name}/infer`;
    // Scripts are resolved from this file's folder (dist/bench), the other build's too.
    const servers: ServerSpec[] = [
      {
        name: 'minimal',
        script: kind === 'gcp' ? 'servers/gcp-minimal.js' : 'servers/minimal.js',
        env: { MODEL_FILE: modelFile },
        path: route,
      },
      {
        name: 'before',
        script: path.relative(__dirname, path.join(before, 'bench', 'servers', `${server}.js`)),
        env: modelfleetEnv,
        path: route,
      },
      { name: 'after', script: `servers/${server}.js`, env: modelfleetEnv, path: route },
    ];
    const rows = await measureThroughput(servers, jsonRequest(model), levels, slices);
    for (const connections of levels) {
      const rps = (name: string) =>
        rows.find((row) => row.server === name && row.connections === connections)?.requestsPerSecond ??
        Number.NaN;
      const minimal = rps('minimal');
      const cell = (name: string) => `${rps(name).toFixed(0)} req/s (${(rps(name) / minimal).toFixed(2)}×)`;
      process.stdout.write(
        `${kind}, ${connections} connections: minimal ${minimal.toFixed(0)} req/s, before ${cell('before')}, after ${cell('after')}\n`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
