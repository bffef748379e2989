/**
 * `npm run demo:canary`: a managed rollout, start to finish, on this machine (about a minute).
 * A worse v2 is rolled back by the guard with its reason; a good v3 advances 10 → 25 → 50 → 100.
 */
import { runCanaryDemo } from './lib/canary-demo';

async function main(): Promise<void> {
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const result = await runCanaryDemo({
    steps: [10, 25, 50, 100],
    bakeSeconds: 8,
    minRequests: 300,
    guardEveryMs: 1000,
    maxP99Ratio: 3,
    concurrency: 8,
    timeoutMs: 60_000,
    print,
  });
  print('');
  print(`v2: ${result.bad?.state ?? 'unknown'} — ${result.bad?.reason ?? ''}`);
  print(`v3: ${result.good?.state ?? 'unknown'} via ${result.goodWeights.join(' → ')}%`);
  print(`${result.requests} requests served; history:`);
  for (const line of result.history) print(`  ${line}`);
  if (result.bad?.state !== 'rolled-back' || result.good?.state !== 'succeeded') process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`demo:canary: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
