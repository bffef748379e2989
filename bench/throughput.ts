/**
 * Section 4: HTTP throughput with autocannon against servers in child processes (stdout to
 * /dev/null). The load generator shares the machine's cores with the server, as noted in the doc.
 */
import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import autocannon from 'autocannon';
import { BENCH_API_KEY } from './models';

export interface ThroughputRow {
  server: string;
  connections: number;
  requestsPerSecond: number;
  meanLatencyMs: number;
  p99LatencyMs: number;
  /** requests/s × mean latency ÷ connections: ≈ 1 when the load generator counts honestly. */
  littleCheck: number;
  errors: number;
  non2xx: number;
}

export interface ServerSpec {
  name: string;
  script: string;
  env: NodeJS.ProcessEnv;
  path: string;
}

async function start(spec: ServerSpec): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(path.join(__dirname, spec.script), [], {
    env: { ...process.env, ...spec.env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${spec.name} exited with ${code} before listening`)));
  });
  return { child, port };
}

function load(url: string, body: string, connections: number, duration: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        method: 'POST',
        body,
        // The minimal server ignores the key; modelfleet checks it on every request.
        headers: { 'content-type': 'application/json', 'x-api-key': BENCH_API_KEY },
        connections,
        duration,
      },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

/**
 * Every server runs at once (idle while another is loaded) and each level is measured in rounds
 * of one-second slices, the servers taking turns, so a neighbour's burst of CPU on this shared
 * machine hits all of them alike instead of whichever server happened to be under test.
 */
export async function measureThroughput(
  servers: readonly ServerSpec[],
  body: string,
  levels: readonly number[],
  duration: number,
): Promise<ThroughputRow[]> {
  const started: { spec: ServerSpec; child: ChildProcess; url: string }[] = [];
  try {
    for (const spec of servers) {
      const { child, port } = await start(spec);
      started.push({ spec, child, url: `http://127.0.0.1:${port}${spec.path}` });
    }
    for (const { url } of started) await load(url, body, 4, 1); // warm-up: model load, JIT
    const rows: ThroughputRow[] = [];
    for (const connections of levels) {
      const slices = new Map<string, autocannon.Result[]>(started.map(({ spec }) => [spec.name, []]));
      for (let round = 0; round < Math.max(1, Math.round(duration)); round++) {
        for (const { spec, url } of started)
          slices.get(spec.name)?.push(await load(url, body, connections, 1));
      }
      for (const { spec } of started) rows.push(combine(spec.name, connections, slices.get(spec.name) ?? []));
    }
    // Rows grouped by server, levels in order, as the report lists them.
    return started.flatMap(({ spec }) => rows.filter((row) => row.server === spec.name));
  } finally {
    for (const { child } of started) child.kill('SIGTERM');
  }
}

/** One row from a level's slices: totals over total time; the p99 is the median slice's. */
function combine(server: string, connections: number, results: readonly autocannon.Result[]): ThroughputRow {
  const total = results.reduce((sum, r) => sum + r.requests.total, 0);
  const seconds = results.reduce((sum, r) => sum + r.duration, 0);
  const rps = seconds > 0 ? total / seconds : 0;
  const meanLatencyMs =
    total > 0
      ? results.reduce((sum, r) => sum + r.latency.average * r.requests.total, 0) / total
      : Number.NaN;
  const p99s = results.map((r) => r.latency.p99).sort((a, b) => a - b);
  return {
    server,
    connections,
    requestsPerSecond: rps,
    meanLatencyMs,
    p99LatencyMs: p99s[Math.floor(p99s.length / 2)] ?? Number.NaN,
    littleCheck: (rps * meanLatencyMs) / 1000 / connections,
    errors: results.reduce((sum, r) => sum + r.errors + r.timeouts, 0),
    non2xx: results.reduce((sum, r) => sum + r.non2xx, 0),
  };
}
