/**
 * modelfleet's AWS handler from a cold process, on whatever MODEL_REPOSITORY names (the bench uses
 * s3://… on s3rver, with an empty ARTIFACT_CACHE_DIR): module load, then the first request. The
 * handler's own module load starts the stage preload (withPreload), which the first request awaits.
 *
 * The breakdown is measured, not inferred: the S3 store's requests and onnxruntime's session
 * creation are timed by wrapping them (the S3 driver is loaded first for that; it is light, the
 * SDK behind it loads only if a read needs it); nothing else is loaded ahead of the handler. Metric
 * output (stdout) is captured and dropped; the preload's log line (stderr) gives its duration.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

const t0 = performance.now();

type AsyncFn = (...args: unknown[]) => Promise<unknown>;

/** Wraps `owner[name]` to add the wall time of each call to `total.ms` (overlapping calls add up). */
function timed(owner: Record<string, unknown>, name: string, total: { ms: number; calls: number }): void {
  const original = owner[name] as AsyncFn;
  owner[name] = async function (this: unknown, ...args: unknown[]) {
    const started = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      total.ms += performance.now() - started;
      total.calls += 1;
    }
  };
}

async function main(): Promise<void> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  let preloadMs = Number.NaN;
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => {
    const text = String(chunk);
    const match = /"message":"preload finished".*"ms":(\d+)/.exec(text);
    if (match !== null) preloadMs = Number(match[1]);
    else writeErr(text);
    return true;
  }) as typeof process.stderr.write;

  // Nothing is required ahead of the handler: its entry decides what loads when (prefetch first).
  const s3 = process.env['MODEL_REPOSITORY']?.startsWith('s3://') === true;
  const store = { ms: 0, calls: 0 };
  if (s3) {
    // The driver is light (the SDK loads only if a read needs it); wrapping it times the reads.
    const { S3ModelStore } =
      require('../../shared/store/s3-store') as typeof import('../../shared/store/s3-store');
    const proto = S3ModelStore.prototype as unknown as Record<string, unknown>;
    timed(proto, 'get', store);
    timed(proto, 'list', store);
  }
  const session = { ms: 0, calls: 0 };
  // Wrapped when the handler loads it, not loaded here: when onnxruntime loads is part of the test.
  const Module = require('node:module') as { prototype: { require: (id: string) => unknown } };
  const plainRequire = Module.prototype.require;
  Module.prototype.require = function (this: unknown, id: string) {
    const exports = plainRequire.call(this, id) as Record<string, unknown>;
    if (id.endsWith('/onnx') && typeof exports['createSession'] === 'function' && session.calls === 0) {
      if (!(exports['createSession'] as { timed?: boolean }).timed) {
        timed(exports, 'createSession', session);
        (exports['createSession'] as { timed?: boolean }).timed = true;
      }
    }
    return exports;
  };
  const driversLoaded = performance.now();
  const { handler } = require('../../functions/aws/handler') as typeof import('../../functions/aws/handler');
  const moduleLoad = performance.now();
  const event = {
    version: '2.0',
    rawPath: `/v2/models/${process.env['BENCH_MODEL']}/infer`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', 'x-api-key': process.env['BENCH_API_KEY'] },
    requestContext: { http: { method: 'POST', sourceIp: '127.0.0.1' }, stage: '$default' },
    body: process.env['BENCH_BODY'],
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
  const result = (await handler(event, {} as Context)) as { statusCode: number };
  const done = performance.now();
  process.stdout.write = write;
  process.stderr.write = writeErr;
  if (result.statusCode !== 200) throw new Error(`first request: ${JSON.stringify(result)}`);
  process.stdout.write(
    `${JSON.stringify({
      startup: t0,
      driversAndOrt: driversLoaded - t0,
      entryLoad: moduleLoad - driversLoaded,
      preload: preloadMs,
      ...(s3 ? { storeRequests: store.ms } : {}),
      sessionCreate: session.ms,
      firstRequest: done - moduleLoad,
    })}\n`,
  );
}

void main();
