import { type ChildProcess, fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { build } from 'esbuild';
import { removeTempDirs, sampleRepository, tempDir } from '../support/fixtures';
import { ROOT } from '../support/processes';
import { seededRandom } from '../support/random';
import { FUZZ_LIMITS, type Hostile, hostileRequests, problemWith } from './hostile';
import { API_KEYS, KEYS } from './support';

jest.setTimeout(120_000);
afterAll(removeTempDirs);

const COUNT = 10_000;
const MB = 1024 * 1024;
/** After a full GC the heap must come back within this of where it started. */
const HEAP_TOLERANCE = 16 * MB;
const FUZZ_ENV = {
  API_KEYS,
  MAX_BODY_BYTES: String(FUZZ_LIMITS.maxBodyBytes),
  // The fuzz is about what each request does; rate limits would answer most of them with 429.
  RATE_LIMIT_KEY_RPS: '0',
  RATE_LIMIT_CLIENT_RPS: '0',
};
const VALID = JSON.stringify({
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
});

function tally(
  failures: string[],
  counts: Map<string, number>,
  hostile: Hostile,
  status: number,
  body: string,
) {
  counts.set(hostile.kind, (counts.get(hostile.kind) ?? 0) + 1);
  const problem = problemWith(status, body);
  if (problem !== undefined && failures.length < 20) {
    failures.push(`${hostile.kind} ${hostile.method} ${hostile.path}: ${problem} ${body.slice(0, 200)}`);
  }
}

describe('fuzz: hostile and malformed requests', () => {
  describe('over HTTP against the local server in its own process', () => {
    let child: ChildProcess;
    let port: number;
    const messages: Array<(message: Record<string, number>) => void> = [];

    beforeAll(async () => {
      const repository = await sampleRepository();
      const bundle = path.join(tempDir('modelfleet-fuzz-'), 'fuzz-server.js');
      await build({
        entryPoints: [path.join(__dirname, 'fuzz-server.ts')],
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        external: ['onnxruntime-node'],
        outfile: bundle,
        logLevel: 'error',
      });
      child = fork(bundle, [], {
        execArgv: ['--expose-gc'],
        env: {
          ...process.env,
          ...FUZZ_ENV,
          NODE_PATH: path.join(ROOT, 'node_modules'),
          MODELFLEET_STAGE: 'dev',
          MODEL_REPOSITORY: repository.store.url,
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (message) => messages.shift()?.(message as Record<string, number>));
      port = await new Promise<number>((resolve, reject) => {
        messages.push((message) => resolve(message['port'] ?? 0));
        child.once('exit', (code) => reject(new Error(`fuzz server exited with ${code}`)));
      });
    });

    afterAll(() => {
      if (child?.connected) child.disconnect();
    });

    const heap = () =>
      new Promise<number>((resolve) => {
        messages.push((message) => resolve(message['heapUsed'] ?? 0));
        child.send('heap');
      });

    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const send = (hostile: Pick<Hostile, 'method' | 'path' | 'headers' | 'body'>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method: hostile.method,
            path: hostile.path,
            headers: hostile.headers,
            agent,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
            );
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(hostile.body);
      });

    /** Bytes no HTTP client library would send: Node's parser refuses them before the adapter. */
    const raw = (text: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => socket.end(text));
        const chunks: Buffer[] = [];
        socket.on('data', (chunk) => chunks.push(chunk));
        socket.on('error', reject);
        socket.on('close', () => {
          const response = Buffer.concat(chunks).toString();
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1] ?? 0);
          resolve({ status, body: response.slice(response.indexOf('\r\n\r\n') + 4) });
        });
      });

    it(`answers ${COUNT} of them with a 4xx and a message, stays up, and its heap returns to baseline`, async () => {
      const headers = { 'content-type': 'application/json', 'x-api-key': KEYS.predict };
      for (let i = 0; i < 20; i++) {
        expect(
          (await send({ method: 'POST', path: '/v2/models/iris/infer', headers, body: Buffer.from(VALID) }))
            .status,
        ).toBe(200);
      }
      // One warm-up round of the fuzz itself, so that lazily built code and caches exist before the baseline.
      for (const hostile of hostileRequests(seededRandom(1), 500)) await send(hostile);
      const baseline = await heap();

      const failures: string[] = [];
      const counts = new Map<string, number>();
      const requests = hostileRequests(seededRandom(11), COUNT);
      const started = performance.now();
      let next = 0;
      const worker = async () => {
        while (next < requests.length) {
          const hostile = requests[next++] as Hostile;
          const { status, body } = await send(hostile);
          tally(failures, counts, hostile, status, body);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const malformed = [
        'GET /v2 HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n',
        'POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
        'POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}{}{}',
        'GARBAGE\r\n\r\n',
        `GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      ];
      for (let i = 0; i < 50; i++) {
        const text = malformed[i % malformed.length] as string;
        const { status, body } = await raw(text);
        tally(
          failures,
          counts,
          { kind: 'malformed-http', method: 'RAW', path: text.slice(0, 30), headers: {} },
          status,
          body,
        );
      }
      const elapsed = performance.now() - started;
      const after = await heap();
      console.log(
        `HTTP fuzz: ${COUNT + 50} requests in ${elapsed.toFixed(0)} ms; server heap ${(baseline / MB).toFixed(1)} → ${(after / MB).toFixed(1)} MB; ${JSON.stringify(Object.fromEntries(counts))}`,
      );
      expect(failures).toEqual([]);
      expect(child.exitCode).toBeNull();
      expect(after - baseline).toBeLessThan(HEAP_TOLERANCE);
      const live = await send({ method: 'GET', path: '/v2/health/live', headers: {} });
      expect(live.status).toBe(200);
      // The 413 the adapter answers before the core runs carries the same security headers.
      const tooBig = await fetch(`http://127.0.0.1:${port}/v2/models/iris/infer`, {
        method: 'POST',
        headers,
        body: 'x'.repeat(FUZZ_LIMITS.maxBodyBytes + 1),
      });
      expect(tooBig.status).toBe(413);
      expect(tooBig.headers.get('x-content-type-options')).toBe('nosniff');
      expect(
        (await send({ method: 'POST', path: '/v2/models/iris/infer', headers, body: Buffer.from(VALID) }))
          .status,
      ).toBe(200);
      agent.destroy();
    });
  });
});
