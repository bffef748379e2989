/**
 * modelfleet's AWS handler as deployed: the esbuild bundle (BENCH_BUNDLE, built by
 * bench/cold-start.ts with serverless.yml's options), required from a cold process and asked for
 * one prediction. Nothing is instrumented inside the bundle; the phases are its require and the
 * first request (which waits for the init the require started), plus the preload's own log line:
 * its total and, for the model, reading (fetch: waiting for the prefetched or fresh reads),
 * checks (verify: schema, sha256, signature), onnxruntime's session, and the warm-up run.
 */
import { captureOutput, firstPrediction, preloadPhases, report } from './harness';

const t0 = performance.now();

async function main(): Promise<void> {
  const output = captureOutput();
  const { handler } = require(
    process.env['BENCH_BUNDLE'] ?? '',
  ) as typeof import('../../functions/aws/index');
  const required = performance.now();
  await firstPrediction(handler);
  const done = performance.now();
  output.restore();
  report({
    startup: t0,
    require: required - t0,
    firstRequest: done - required,
    ...preloadPhases(output.preload()),
  });
}

void main();
