/**
 * `npm run bench`: every section in one run, ratios computed against references measured in the
 * same run, printed and written to docs/benchmarks.md with a description of the machine.
 *
 * Knobs: BENCH_CALLS (default 5000 timed calls per latency variant), BENCH_DURATION (seconds per
 * throughput level, default 4), BENCH_COLD_RUNS (default 5), BENCH_SKIP (comma list of
 * latency,throughput,cold,package,workers,edge,memory), BENCH_MODELS (latency: tabular,cnn), BENCH_SERVERS (throughput:
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
import { measureMemory } from './memory';
import { BENCH_SECURITY_ENV, benchRepository, cnnModel, jsonRequest, tabularModel } from './models';
import { measureEdgeModules, measurePackages, type PackageRow } from './package-size';
import { formatMs, markdownTable, ratio } from './stats';
import { measureThroughput, type ServerSpec, type ThroughputRow } from './throughput';
import { measureWorkers } from './workers';

const root = projectRoot();
const skip = new Set((process.env['BENCH_SKIP'] ?? '').split(',').filter(Boolean));
const calls = Number(process.env['BENCH_CALLS'] ?? 5000);
const duration = Number(process.env['BENCH_DURATION'] ?? 4);
const coldRuns = Number(process.env['BENCH_COLD_RUNS'] ?? 5);

const log = (line: string) => process.stderr.write(`${line}\n`);
/** The 1-minute load average as each section starts: the machine is shared, so it goes in the report. */
const sectionLoads: string[] = [];
const section = (name: string) => {
  sectionLoads.push(`${name.replace(/^\d\/\d /, '')} ${os.loadavg()[0]?.toFixed(1)}`);
  log(`${name} …`);
};

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
      // stderr is kept for failures only.
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
      section('1/8 warm in-process latency');
      const results = await runLatency();
      const rows: string[][] = [];
      for (const result of results) {
        const v = result.variants;
        const minimal = v['minimal']?.p50 ?? Number.NaN;
        for (const [name, label] of [
          ['raw', 'raw session.run'],
          ['raw-direct', 'the same native run on the calling thread, as modelfleet calls it'],
          ['minimal', 'minimal hand-written handler (JSON)'],
          ['aws', 'modelfleet AWS handler, API Gateway v2 (JSON)'],
          ['core', 'modelfleet core app.handle (JSON)'],
          ['emf', 'modelfleet EMF line alone: build and write one request document'],
          ['minimal-emf', 'minimal handler + its EMF line (same figures, JSON.stringify, per call)'],
          ['aws-no-metrics', 'modelfleet AWS handler (JSON), metrics discarded'],
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
          const floor = v['minimal-emf']?.p50 ?? Number.NaN;
          summary.push([
            'tiny model, AWS handler (with its EMF line) vs minimal handler with its EMF line (p50)',
            '≤ 1.50×',
            ratio(aws, floor),
            goal(aws / floor <= 1.5),
          ]);
          const core = v['core-no-metrics']?.p50 ?? Number.NaN;
          summary.push([
            'tiny model, core app.handle (metric sink discarded) vs minimal handler (p50)',
            '≤ 1.25×',
            ratio(core, minimal),
            goal(core / minimal <= 1.25),
          ]);
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
      section('2/8 HTTP throughput');
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
      // Issue 21: the local server against the minimal node:http server, the GCP function against
      // the same minimal handler registered with functions-framework (the platform's own floor).
      for (const row of rows.filter((r) => r.server.startsWith('modelfleet'))) {
        const framework = onFramework(row);
        const ref = (framework ? frameworkFloor : reference).get(row.connections) ?? Number.NaN;
        summary.push([
          `${row.server.replace('modelfleet ', '')} throughput at ${row.connections} connections, vs ${
            framework ? 'minimal function on functions-framework' : 'minimal node:http server'
          }`,
          '≥ 0.80×',
          ratio(row.requestsPerSecond, ref),
          goal(row.requestsPerSecond / ref >= 0.8),
        ]);
      }
    }
    if (!skip.has('cold')) {
      section('3/8 cold start');
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
      // Node's own start-up (to the script's first line) is the same work on every row but varies
      // by tens of ms on a shared machine: the ratio without it is shown beside the goal's.
      const withoutStartup = (row: ColdRow) => row.totalMs - (row.phases['startup'] ?? 0);
      const naiveRowOf = (row: ColdRow) =>
        rows.find((r) => r.loading === row.loading && r.path.startsWith('naive'));
      for (const row of rows.filter((r) => r.path.startsWith('modelfleet') && r.path.includes('S3'))) {
        const naive = naiveOf(row);
        const naiveRow = naiveRowOf(row);
        // Issue 21: the deployed bundle at most 0.8x the naive function; the dist/ row is how
        // `npm start` loads, kept at the earlier goal of 1.0x.
        const target = row.loading === 'bundle' ? 0.8 : 1;
        summary.push([
          `cold start, ${row.loading === 'bundle' ? 'deployed bundle' : 'dist/ + node_modules'}, S3, empty cache vs naive ${row.loading === 'bundle' ? 'bundled' : 'from node_modules'} (without Node's start-up: ${
            naiveRow === undefined ? 'n/a' : ratio(withoutStartup(row), withoutStartup(naiveRow))
          })`,
          `≤ ${target.toFixed(2)}×`,
          ratio(row.totalMs, naive),
          goal(row.totalMs / naive <= target),
        ]);
      }
    }
    if (!skip.has('package')) {
      section('4/8 package size (sls package)');
      const rows: PackageRow[] = measurePackages(root, repoDir, 5);
      // Issue 21: every function zip stays at most 30 MB zipped and 120 MB unpacked (Lambda's own
      // limits are 50 / 250 MB, scripts/check-package.cjs), with room for what other work adds.
      const largestZip = Math.max(...rows.map((r) => r.zippedBytes));
      const largestUnpacked = Math.max(...rows.map((r) => r.unpackedBytes));
      summary.push([
        'largest function package, zipped',
        '≤ 30 MB',
        `${(largestZip / 2 ** 20).toFixed(1)} MiB`,
        goal(largestZip <= 30 * 2 ** 20),
      ]);
      summary.push([
        'largest function package, unpacked',
        '≤ 120 MB',
        `${(largestUnpacked / 2 ** 20).toFixed(1)} MiB`,
        goal(largestUnpacked <= 120 * 2 ** 20),
      ]);
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
    if (!skip.has('workers')) {
      section('5/8 inference workers (server entry from dist/)');
      const { throughput, health } = await measureWorkers(duration);
      const one = throughput.find((r) => r.workers === 1)?.requestsPerSecond ?? Number.NaN;
      sections.push(
        `## 7. Inference workers (the server entry, dist/scripts/serve.js; models calibrated to ≈ 20 ms and ≈ 100 ms a run on this machine; ${duration} s per row)\n\n${markdownTable(
          [
            'INFERENCE_WORKERS',
            'req/s, ≈ 20 ms model, 8 connections',
            'vs 1 worker',
            'mean latency',
            'errors',
          ],
          throughput.map((r) => [
            String(r.workers),
            r.requestsPerSecond.toFixed(1),
            ratio(r.requestsPerSecond, one),
            formatMs(r.meanLatencyMs),
            String(r.errors),
          ]),
        )}\n\n${markdownTable(
          [
            'INFERENCE_WORKERS',
            'GET /v2/health/live p50',
            'p99',
            'probes',
            '≈ 100 ms model req/s (4 connections)',
          ],
          health.map((r) => [
            r.workers === 0 ? '0 (inline)' : String(r.workers),
            formatMs(r.health.p50),
            formatMs(r.health.p99),
            String(r.health.n),
            r.predictionsPerSecond.toFixed(1),
          ]),
        )}\n\nThroughput can only grow up to the cores left to the workers (${os.cpus().length} here, shared with the load generator and the main thread).`,
      );
      const pooled = health.find((r) => r.workers > 0);
      if (pooled !== undefined) {
        summary.push([
          'GET /v2/health/live p99 while a ≈ 100 ms model is under load (server, workers)',
          '≤ 20 ms',
          formatMs(pooled.health.p99),
          goal(pooled.health.p99 <= 20),
        ]);
      }
      const two = throughput.find((r) => r.workers === 2)?.requestsPerSecond ?? Number.NaN;
      summary.push([
        'CPU-bound model throughput, 2 workers vs 1',
        '> 1.00×',
        ratio(two, one),
        goal(two > one),
      ]);
    }
    if (!skip.has('memory')) {
      section('6/8 memory per model');
      const rows = await measureMemory();
      const mibText = (value: number) => `${value.toFixed(1)} MiB`;
      sections.push(
        `## 8. Memory per model (RSS of a fresh process, after a full GC; one process per model)\n\n${markdownTable(
          [
            'model',
            'ONNX file',
            'runtime loaded, no model',
            'after preload',
            'after 200 requests',
            'peak',
            'per further session of the model',
            'Lambda memory size it implies',
          ],
          rows.map((r) => [
            r.model,
            r.artifactBytes < 2 ** 20
              ? `${(r.artifactBytes / 1024).toFixed(1)} KiB`
              : mibText(r.artifactBytes / 2 ** 20),
            mibText(r.runtimeMiB),
            mibText(r.afterPreloadMiB),
            mibText(r.servingMiB),
            mibText(r.peakMiB),
            mibText(r.perSessionMiB),
            `${r.lambdaMiB} MB`,
          ]),
        )}\n\n${MEMORY_NOTES}`,
      );
    }
    if (!skip.has('edge')) {
      section('7/8 edge module');
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
      section('8/8 batch scoring vs raw session.run');
      const models = await measureBatch();
      for (const { model, paths } of models) {
        const raw = paths[0]?.rowsPerSecond ?? 1;
        const job = paths[2]?.rowsPerSecond ?? 0;
        const minimal = paths[3]?.rowsPerSecond ?? 1;
        summary.push([
          `batch job throughput vs raw session.run (${model}, same batches)`,
          '≥ 70 %',
          `${((job / raw) * 100).toFixed(1)} %`,
          goal(job / raw >= 0.7),
        ]);
        // The rule's baseline: the same job written by hand (reading, parsing, writing included).
        summary.push([
          `batch job throughput vs a minimal hand-written batch script (${model}, same file)`,
          'reported',
          ratio(job, minimal),
          '',
        ]);
      }
      const tables = models.map(({ description, paths }) => {
        const raw = paths[0]?.rowsPerSecond ?? 1;
        const minimal = paths[3]?.rowsPerSecond ?? 1;
        return `### ${description}\n\n${markdownTable(
          ['path', 'rows/s', 'share of raw session.run', 'vs minimal script'],
          paths.map((r) => [
            r.path,
            Math.round(r.rowsPerSecond).toLocaleString('en-US'),
            `${((r.rowsPerSecond / raw) * 100).toFixed(1)} %`,
            ratio(r.rowsPerSecond, minimal),
          ]),
        )}`;
      });
      sections.push(
        `## 9. Batch scoring vs raw onnxruntime (best of 3 interleaved rounds)\n\n${tables.join('\n\n')}`,
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
    `- Load average (1 min) as each section started: ${sectionLoads.join(', ')}.`,
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

const MEMORY_NOTES = `\`runtime loaded\` is Node with the core and onnxruntime's module loaded and the app built, before any session: what every instance pays (onnxruntime's environment is created with the first session, so part of it shows in \`after preload\`). \`after preload\` has the stage's deployed version verified, its session created and warmed up; \`after 200 requests\` serves the bench's JSON request (the CNN's 0.5 MB JSON bodies grow the heap). \`per further session\` is the RSS four more sessions of the same model add, divided by four: what a canary or shadow version of a similar size costs beside the primary. The implied Lambda memory size is the peak plus one further session plus 64 MB of headroom, rounded up to 64 MB and at least 128 MB (bench/memory.ts \`impliedLambdaMiB\`); Lambda also scales CPU with memory, so latency-sensitive functions may want more. tabular and cnn are the latency models (a few KB each); mlp is an MLP 256 → 2048 → 2048 → 10 (≈ 19 MB of ONNX), for a model with weight to it.`;

const COLD_START_NOTES = `\`startup\` is the time from process start to the first line of the script (Node's own start-up).
Both naive rows are the same script (bench/cold/naive.ts: require onnxruntime-node, GetObject through @aws-sdk/client-s3, create the session, run once); the bundled one is built by esbuild with the SDK inside, as a function would be deployed.
The deployed-bundle row is functions/aws/index.ts bundled with serverless.yml's esbuild options and exclusions (bench/cold-start.ts), required by bench/cold/bundle.ts and asked for one prediction; \`require\` is the entry's synchronous load (it starts the store reads), \`firstRequest\` waits for the rest of the init (modules loaded one per event-loop turn, then the preload: deployment and manifest parsing, sha256, session, warm-up), and \`preload\` with \`fetch\` (waiting for the model's reads), \`verify\` (schema, sha256, signature), \`session\` and \`warmUp\` come from the preload's log line (phases of the bench model's version; in the folder row a second model loads concurrently, so waits land in \`fetch\`).
The dist/ rows run the same entry from tsc output and node_modules, instrumented: \`driverLoad\` loads the S3 driver ahead of the entry to time its calls (\`storeRequests\`, summed over concurrent calls), \`entryLoad\` the entry's synchronous load, \`sessionCreate\` onnxruntime's session creation, \`firstRequest\` the time from the end of the entry's load to the response.
Every modelfleet row reads s3://models/repo on the same s3rver (or the folder repository) with a new empty ARTIFACT_CACHE_DIR per run, through the real S3 driver: without the SDK, since the credentials are in the environment as on Lambda.`;

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
