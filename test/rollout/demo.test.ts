import { runCanaryDemo } from '../../scripts/lib/canary-demo';

// The short form of `npm run demo:canary`: real HTTP on 127.0.0.1, the real guard and executor,
// shorter bakes and sample floors. It must end with v2 rolled back and v3 promoted step by step.
jest.setTimeout(120_000);

describe('npm run demo:canary (short form)', () => {
  it('rolls the worse v2 back on accuracy and promotes the good v3 through every step', async () => {
    const timeline: string[] = [];
    const result = await runCanaryDemo({
      steps: [20, 50, 100],
      bakeSeconds: 1,
      minRequests: 40,
      guardEveryMs: 250,
      // 40 samples on a shared CI machine: a p99 is one GC pause away from anything.
      maxP99Ratio: 20,
      concurrency: 6,
      timeoutMs: 45_000,
      print: (line) => timeline.push(line),
    });
    const story = timeline.join('\n');
    expect(result.bad).toMatchObject({ version: 2, state: 'rolled-back', actor: 'guard:demo' });
    expect(result.bad?.reason).toMatch(
      /^accuracy \d+\.\d+% \(\d+\) vs \d+\.\d+% \(\d+\): more than 1\.0 points lower/,
    );
    expect(result.good).toMatchObject({ version: 3, state: 'succeeded' });
    expect(result.goodWeights).toEqual([20, 50, 100]);
    expect(story).toMatch(/guard: iris@local: ROLLED BACK at 20% — accuracy/);
    expect(story).toMatch(/guard: iris@local: promoted \(100%\)/);
    expect(result.history).toEqual([
      'promote 1 by demo',
      'rollout 2 started at 20% (steps 20,50,100, bake 1s) by demo',
      'rollout 2 rolled back to primary=1:100 by guard:demo',
      'rollout 3 started at 20% (steps 20,50,100, bake 1s) by demo',
      'rollout 3 advanced to 50% by guard:demo',
      'rollout 3 promoted to 100% by guard:demo',
    ]);
  });
});
