/**
 * modelfleet's AWS handler as deployed: the esbuild bundle (BENCH_BUNDLE, built by
 * bench/cold-start.ts with serverless.yml's options), required from a cold process and asked for
 * one prediction. Nothing is instrumented inside the bundle; the phases are its require and the
 * first request (which waits for the init the require started), plus the preload's own log line.
 */
import { captureOutput, firstPrediction, report } from './harness';

const t0 = performance.now();

async function main(): Promise<void> {
  const output = captureOutput();
  const { handler } = require(
    process.env['BENCH_BUNDLE'] ?? '',
  ) as typeof import('../../functions/aws/handler');
  const required = performance.now();
  await firstPrediction(handler);
  const done = performance.now();
  output.restore();
  report({ startup: t0, require: required - t0, firstRequest: done - required, preload: output.preloadMs() });
}

void main();
