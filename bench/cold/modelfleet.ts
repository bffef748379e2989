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
import { captureOutput, firstPrediction, preloadPhases, report } from './harness';

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
  const output = captureOutput();
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
  const { handler } = require('../../functions/aws/index') as typeof import('../../functions/aws/index');
  const moduleLoad = performance.now();
  await firstPrediction(handler);
  const done = performance.now();
  output.restore();
  report({
    startup: t0,
    driverLoad: driversLoaded - t0,
    entryLoad: moduleLoad - driversLoaded,
    ...preloadPhases(output.preload()),
    ...(s3 ? { storeRequests: store.ms } : {}),
    sessionCreate: session.ms,
    firstRequest: done - moduleLoad,
  });
}

void main();
