/**
 * `npm run bench`: every section in one run, ratios computed against references measured in the
 * same run, printed and written to docs/benchmarks.md with a description of the machine.
 *
 * Knobs: BENCH_CALLS (default 5000 timed calls per latency variant), BENCH_DURATION (seconds per
 * throughput level, default 4), BENCH_COLD_RUNS (default 5), BENCH_SKIP (comma list of
 * latency,throughput,cold,package), BENCH_MODELS (latency: tabular,cnn), BENCH_SERVERS (throughput:
 * minimal,gcp-minimal,gcp,local).
 */
import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../scripts/lib/paths';
import { measureBatch } from './batch';
import { type ColdRow, measureColdStart } from './cold-start';
import type { LatencyResult } from './latency';
import { BENCH_SECURITY_ENV, benchRepository, cnnModel, jsonRequest, tabularModel } from './models';
import { measureEdgeModules, measurePackages, type PackageRow } from './package-size';
import { formatMs, markdownTable, ratio } from './stats';
import { measureThroughput, type ServerSpec, type ThroughputRow } from './throughput';

const root = projectRoot();
const skip = new Set((process.env['BENCH_SKIP'] ?? '').split(',').filter(Boolean));
const calls = Number(process.env['BENCH_CALLS'] ?? 5000);
const duration = Number(process.env['BENCH_DURATION'] ?? 4);
const coldRuns = Number(process.env['BENCH_COLD_RUNS'] ?? 5);

const log = (line: string) => process.stderr.write(`${line}\n`);

function machine(): string[] {
  const cpus = os.cpus();
  const ortVersion = (
    JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  return [
    `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.type()} ${os.release()}`,
    `Node.js ${process.versions.node}, onnxruntime-node ${ortVersion}, sessions with 1 intra-op and 1 inter-op thread`,
  ];
}

function runLatency(): Promise<LatencyResult[]> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'latency.js'), [], {
      env: { ...process.env, BENCH_CALLS: String(calls) },
      // stderr is kept for failures only: Powertools warns on every AWS request (see the report).
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let tail = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.once('message', (message) => resolve(message as LatencyResult[]));
    child.once('exit', (code) =>
      code === 0 ? undefined : reject(new Error(`latency bench exited with ${code}:\n${tail}`)),
    );
  });
}

const goal = (ok: boolean) => (ok ? 'met' : '**not met**');
const floorGoal = (ok: boolean) => (ok ? 'within the floor budget' : 'over the floor budget');
const MINIMAL_SERVER = 'minimal node:http + onnxruntime';
const FRAMEWORK_MINIMAL_SERVER = 'minimal function on functions-framework + onnxruntime';

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const sections: string[] = [];
  const summary: string[][] = [];
  const repoDir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-bench-repo-'));
  const tabular = tabularModel();
  const cnn = cnnModel();
  await benchRepository(repoDir, [tabular, cnn]);
  try {
    if (!skip.has('latency')) {
      log('1/4 warm in-process latency …');
      const results = await runLatency();
      const rows: string[][] = [];
      for (const result of results) {
        const v = result.variants;
        const minimal = v['minimal']?.p50 ?? Number.NaN;
        for (const [name, label] of [
          ['raw', 'raw session.run'],
          ['minimal', 'minimal hand-written handler (JSON)'],
          ['aws', 'modelfleet AWS handler, API Gateway v2 (JSON)'],
          ['core', 'modelfleet core app.handle (JSON)'],
          ['powertools', 'Powertools Metrics alone: record one request event, flush its EMF'],
          ['minimal-emf', 'minimal handler + Powertools EMF (same figures, flushed per call)'],
          ['aws-no-metrics', 'modelfleet AWS handler (JSON), without Powertools (metrics discarded)'],
          ['core-no-metrics', 'modelfleet core app.handle (JSON), metric sink discarded'],
          ['aws-binary', 'modelfleet AWS handler (binary tensor, base64 event)'],
          ['core-binary', 'modelfleet core app.handle (binary tensor)'],
        ] as const) {
          const s = v[name];
          if (s === undefined) continue;
          rows.push([
            result.model,
            label,
            formatMs(s.p50),
            formatMs(s.p99),
            ratio(s.p50, minimal),
            // The EMF floor is measured on the tiny model only (on the CNN it is lost in the parse).
            v['minimal-emf'] !== undefined && (name.startsWith('aws') || name === 'minimal-emf')
              ? ratio(s.p50, v['minimal-emf'].p50)
              : '',
            String(s.n),
          ]);
        }
        const aws = v['aws']?.p50 ?? Number.NaN;
        const awsBinary = v['aws-binary']?.p50 ?? Number.NaN;
        if (result.model === 'tabular') {
          summary.push([
            'tiny model, AWS handler vs minimal handler (p50)',
            '≤ 1.30×',
            ratio(aws, minimal),
            goal(aws / minimal <= 1.3),
          ]);
          const floor = v['minimal-emf']?.p50 ?? Number.NaN;
          if (Number.isFinite(floor)) {
            // Not an issue goal: the same ratio against a minimal handler that also emits the EMF.
            summary.push([
              '_floor-relative, not an issue goal:_ tiny model, AWS handler vs minimal handler + Powertools EMF (p50)',
              '(≤ 1.30×)',
              ratio(aws, floor),
              floorGoal(aws / floor <= 1.3),
            ]);
          }
        } else {
          summary.push([
            'CNN JSON, AWS handler vs minimal handler (p50)',
            '≤ 1.00×',
            ratio(aws, minimal),
            goal(aws / minimal <= 1.0),
          ]);
          summary.push([
            'CNN binary, AWS handler vs JSON minimal handler (p50)',
            '≤ 0.30×',
            ratio(awsBinary, minimal),
            goal(awsBinary / minimal <= 0.3),
          ]);
        }
      }
      const profiles = results.map(
        (r) =>
          `### Profile: ${r.model}, modelfleet AWS handler (JSON), self time of the top functions\n\n${markdownTable(
            ['self time', 'function (file:line in dist/ or node_modules/)'],
            r.profile.map((p) => [`${p.selfPercent.toFixed(1)} %`, `\`${p.where}\``]),
          )}`,
      );
      const sizes = results.map(
        (r) => `${r.model}: JSON body ${r.bodyBytes} bytes, binary body ${r.binaryBodyBytes} bytes`,
      );
      sections.push(
        `## 1–2. Warm in-process latency (${calls} timed calls per variant, interleaved rounds)\n\n${markdownTable(['model', 'variant', 'p50', 'p99', 'p50 vs minimal', 'p50 vs minimal + EMF', 'calls'], rows)}\n\n${sizes.join('; ')}.\n\n${profiles.join('\n\n')}`,
      );
    }
    if (!skip.has('throughput')) {
      log('2/4 HTTP throughput …');
      const body = jsonRequest(tabular);
      const modelFile = path.join(repoDir, 'tabular', '1', 'model.onnx');
      const modelfleetEnv = {
        ...BENCH_SECURITY_ENV,
        MODEL_REPOSITORY: repoDir,
        DEPLOYMENT_TTL_SECONDS: '30',
      };
      const servers: (ServerSpec & { key: string })[] = [
        {
          key: 'minimal',
          name: MINIMAL_SERVER,
          script: 'servers/minimal.js',
          env: { MODEL_FILE: modelFile },
          path: '/',
        },
        {
          key: 'gcp-minimal',
          name: FRAMEWORK_MINIMAL_SERVER,
          script: 'servers/gcp-minimal.js',
          env: { MODEL_FILE: modelFile },
          path: '/',
        },
        {
          key: 'gcp',
          name: 'modelfleet GCP function (functions-framework)',
          script: 'servers/gcp.js',
          env: modelfleetEnv,
          path: '/v2/models/tabular/infer',
        },
        {
          key: 'local',
          name: 'modelfleet local server',
          script: 'servers/modelfleet-local.js',
          env: modelfleetEnv,
          path: '/v2/models/tabular/infer',
        },
      ];
      // BENCH_SERVERS=minimal,local measures a subset while iterating on one server.
      const onlyServers = process.env['BENCH_SERVERS']?.split(',');
      const rows: ThroughputRow[] = await measureThroughput(
        onlyServers === undefined ? servers : servers.filter((s) => onlyServers.includes(s.key)),
        body,
        [1, 16, 64],
        duration,
      );
      const rpsOf = (server: string) =>
        new Map(rows.filter((r) => r.server === server).map((r) => [r.connections, r.requestsPerSecond]));
      const reference = rpsOf(MINIMAL_SERVER);
      const frameworkFloor = rpsOf(FRAMEWORK_MINIMAL_SERVER);
      const onFramework = (r: ThroughputRow) => r.server.includes('functions-framework');
      sections.push(
        `## 4. HTTP throughput (autocannon, ${duration} one-second slices per server and level, servers taking turns; tabular model, 1-row body)\n\n${markdownTable(
          [
            'server',
            'connections',
            'req/s',
            'vs minimal',
            'vs minimal on functions-framework',
            'mean latency',
            'p99 latency',
            'req/s × mean ÷ connections',
            'errors / non-2xx',
          ],
          rows.map((r) => [
            r.server,
            String(r.connections),
            r.requestsPerSecond.toFixed(0),
            ratio(r.requestsPerSecond, reference.get(r.connections) ?? Number.NaN),
            onFramework(r) ? ratio(r.requestsPerSecond, frameworkFloor.get(r.connections) ?? Number.NaN) : '',
            `${r.meanLatencyMs.toFixed(2)} ms`,
            `${r.p99LatencyMs.toFixed(2)} ms`,
            r.littleCheck.toFixed(2),
            `${r.errors} / ${r.non2xx}`,
          ]),
        )}\n\nThe minimal function on functions-framework is the node:http minimal server's handler registered with the framework and served the same way as modelfleet's GCP function (bench/servers/gcp-minimal.ts): the framework's own floor.`,
      );
      for (const row of rows.filter((r) => r.server.startsWith('modelfleet'))) {
        const ref = reference.get(row.connections) ?? Number.NaN;
        summary.push([
          `${row.server.replace('modelfleet ', '')} throughput at ${row.connections} connections`,
          '≥ 0.80×',
          ratio(row.requestsPerSecond, ref),
          goal(row.requestsPerSecond / ref >= 0.8),
        ]);
      }
      // Not issue goals: the same ratio against the floor the platform's framework sets on its own.
      for (const row of rows.filter((r) => r.server.startsWith('modelfleet') && onFramework(r))) {
        const floor = frameworkFloor.get(row.connections) ?? Number.NaN;
        summary.push([
          `_floor-relative, not an issue goal:_ GCP function vs minimal function on functions-framework, throughput at ${row.connections} connections`,
          '(≥ 0.80×)',
          ratio(row.requestsPerSecond, floor),
          floorGoal(row.requestsPerSecond / floor >= 0.8),
        ]);
      }
    }
    if (!skip.has('cold')) {
      log('3/4 cold start …');
      const rows: ColdRow[] = await measureColdStart(
        repoDir,
        { name: tabular.name, version: 1, shape: tabular.shape, body: jsonRequest(tabular) },
        coldRuns,
      );
      const naiveOf = (row: ColdRow) =>
        rows.find((r) => r.loading === row.loading && r.path.startsWith('naive'))?.totalMs ?? Number.NaN;
      sections.push(
        `## 3. Cold start (spawn → first successful prediction, median of ${coldRuns} runs, empty cache)\n\n${markdownTable(
          ['path', 'total', 'vs naive loaded the same way', 'breakdown (medians)'],
          rows.map((r) => [
            r.path,
            formatMs(r.totalMs),
            ratio(r.totalMs, naiveOf(r)),
            Object.entries(r.phases)
              .map(([k, v]) => `${k} ${formatMs(v)}`)
              .join(', '),
          ]),
        )}\n\n${COLD_START_NOTES}`,
      );
      for (const row of rows.filter((r) => r.path.startsWith('modelfleet') && r.path.includes('S3'))) {
        const naive = naiveOf(row);
        summary.push([
          `cold start, ${row.loading === 'bundle' ? 'deployed bundle' : 'dist/ + node_modules'}, S3, empty cache vs naive ${row.loading === 'bundle' ? 'bundled' : 'from node_modules'}`,
          '≤ 1.00×',
          ratio(row.totalMs, naive),
          goal(row.totalMs / naive <= 1),
        ]);
      }
    }
    if (!skip.has('package')) {
      log('4/4 package size (sls package) …');
      const rows: PackageRow[] = measurePackages(root, repoDir, 5);
      sections.push(
        `## 5. Function packages (\`sls package --stage prod\`) and bundle module-load time\n\n${markdownTable(
          [
            'zip',
            'zipped',
            'unpacked',
            'require(handler), fresh process (median of 5)',
            'until it answers GET /v2/health/live (after preloading both bench models)',
          ],
          rows.map((r) => [
            r.zip,
            `${(r.zippedBytes / 2 ** 20).toFixed(1)} MiB`,
            `${(r.unpackedBytes / 2 ** 20).toFixed(1)} MiB`,
            formatMs(r.moduleLoadMs),
            r.readyMs === undefined ? 'n/a' : formatMs(r.readyMs),
          ]),
        )}`,
      );
    }
    if (!skip.has('edge')) {
      const rows = await measureEdgeModules();
      const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
      sections.push(
        `## 6. modelfleet-edge module (esbuild, minified browser build; onnxruntime-web included, WASM beside it)\n\n${markdownTable(
          ['build', 'module', 'size', 'gzip', 'WASM + glue beside it (not counted)'],
          rows.map((r) => [
            r.build,
            r.file,
            kib(r.bytes),
            kib(r.gzipBytes),
            `${(r.wasmBytes / 2 ** 20).toFixed(1)} MiB`,
          ]),
        )}`,
      );
    }
    if (!skip.has('batch')) {
      log('batch scoring vs raw session.run …');
      const rows = await measureBatch();
      const raw = rows[0]?.rowsPerSecond ?? 1;
      const job = rows[2]?.rowsPerSecond ?? 0;
      summary.push([
        'batch job throughput vs raw session.run (iris, same batches)',
        '≥ 70 %',
        `${((job / raw) * 100).toFixed(1)} %`,
        goal(job / raw >= 0.7),
      ]);
      sections.push(
        `## 7. Batch scoring vs raw onnxruntime (iris sample, 200,000 rows, best of 3 interleaved rounds)\n\n${markdownTable(
          ['path', 'rows/s', 'share of raw session.run'],
          rows.map((r) => [
            r.path,
            Math.round(r.rowsPerSecond).toLocaleString('en-US'),
            `${((r.rowsPerSecond / raw) * 100).toFixed(1)} %`,
          ]),
        )}`,
      );
    }
  } finally {
    rmSync(repoDir, { recursive: true, force: true });
  }
  const loadAfter = os.loadavg();
  const took = (Date.now() - startedAt.getTime()) / 1000;
  const doc = [
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\` on ${startedAt.toISOString()} in ${took.toFixed(0)} s. Every ratio compares numbers measured in the same run.`,
    '',
    '## Machine',
    '',
    ...machine().map((line) => `- ${line}`),
    `- Load average (1 min) ${loadBefore[0]?.toFixed(1)} at start, ${loadAfter[0]?.toFixed(1)} at end: ${
      (loadBefore[0] ?? 0) > os.cpus().length
        ? '**the machine was shared with other work; absolute numbers are inflated and noisy, ratios less so**'
        : 'quiet machine'
    }.`,
    '',
    '## Goals',
    '',
    markdownTable(['goal', 'target', 'measured', ''], summary),
    '',
    ...sections.flatMap((s) => [s, '']),
    readFileSync(path.join(root, 'bench', 'analysis.md'), 'utf8').trim(),
    '',
  ].join('\n');
  const target = path.join(root, 'docs', 'benchmarks.md');
  writeFileSync(target, doc);
  // Aligned tables, as `npm run lint` (Biome) wants them: a fresh run leaves the tree lint-clean.
  spawnSync(path.join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', target], {
    stdio: 'ignore',
  });
  process.stdout.write(`${doc}\n`);
  log(`wrote docs/benchmarks.md (${took.toFixed(0)} s)`);
}

const COLD_START_NOTES = `\`startup\` is the time from process start to the first line of the script (Node's own start-up).
Both naive rows are the same script (bench/cold/naive.ts: require onnxruntime-node, GetObject through @aws-sdk/client-s3, create the session, run once); the bundled one is built by esbuild with the SDK inside, as a function would be deployed.
The deployed-bundle row is functions/aws/index.ts bundled with serverless.yml's esbuild options and exclusions (bench/cold-start.ts), required by bench/cold/bundle.ts and asked for one prediction; \`require\` is the entry's synchronous load (it starts the store reads), \`firstRequest\` waits for the rest of the init (modules loaded one per event-loop turn, then the preload: deployment and manifest parsing, sha256, session, warm-up), and \`preload\` with \`fetch\` (waiting for the model's reads), \`verify\` (schema, sha256, signature), \`session\` and \`warmUp\` come from the preload's log line (phases of the bench model's version; in the folder row a second model loads concurrently, so waits land in \`fetch\`).
The dist/ rows run the same entry from tsc output and node_modules, instrumented: \`driverLoad\` loads the S3 driver ahead of the entry to time its calls (\`storeRequests\`, summed over concurrent calls), \`entryLoad\` the entry's synchronous load, \`sessionCreate\` onnxruntime's session creation, \`firstRequest\` the time from the end of the entry's load to the response.
Every modelfleet row reads s3://models/repo on the same s3rver (or the folder repository) with a new empty ARTIFACT_CACHE_DIR per run, through the real S3 driver: without the SDK, since the credentials are in the environment as on Lambda.`;

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
