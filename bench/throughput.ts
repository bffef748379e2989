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

export async function measureThroughput(
  servers: readonly ServerSpec[],
  body: string,
  levels: readonly number[],
  duration: number,
): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  for (const spec of servers) {
    const { child, port } = await start(spec);
    try {
      const url = `http://127.0.0.1:${port}${spec.path}`;
      await load(url, body, 4, 1); // warm-up: model load, JIT
      for (const connections of levels) {
        const result = await load(url, body, connections, duration);
        const rps = result.requests.average;
        rows.push({
          server: spec.name,
          connections,
          requestsPerSecond: rps,
          meanLatencyMs: result.latency.average,
          p99LatencyMs: result.latency.p99,
          littleCheck: (rps * result.latency.average) / 1000 / connections,
          errors: result.errors + result.timeouts,
          non2xx: result.non2xx,
        });
      }
    } finally {
      child.kill('SIGTERM');
    }
  }
  return rows;
}
