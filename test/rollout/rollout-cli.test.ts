import { appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, UsageError } from '../../scripts/cli';
import { RolloutFailedError } from '../../scripts/lib/rollout-commands';
import { irisModel } from '../../scripts/lib/sample-models';
import { packageModel } from '../../shared/control/packaging';
import { removeTempDirs, sampleRepository, tempDir } from '../support/fixtures';

afterAll(removeTempDirs);

async function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const lines: string[] = [];
  await run(args, env, (text) => lines.push(text));
  return lines.join('\n');
}

/** Metric lines as the local server prints them, stamped now. */
function lines(variant: string, version: number, count: number, errors = 0): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const event = {
      timestamp: new Date().toISOString(),
      requestId: `r${i}`,
      stage: 'local',
      route: 'infer',
      method: 'POST',
      status: i < errors ? 500 : 200,
      model: 'iris',
      version,
      variant,
      coldStart: false,
      latencyMs: 10 + (i % 7),
    };
    out.push(`{"type":"modelfleet.request",${JSON.stringify(event).slice(1)}`);
  }
  return `${out.join('\n')}\n`;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The local source counts whole seconds from a step's start: write the step's lines after it. */
const nextSecond = () => pause(1005 - (Date.now() % 1000));

describe('modelfleet rollout / guard', () => {
  let env: NodeJS.ProcessEnv;
  let metrics: string;

  beforeAll(async () => {
    const repository = await sampleRepository();
    await repository.publish(await packageModel({ name: 'iris', artifact: irisModel([9.85, 5.5, -12.09]) }));
    metrics = path.join(tempDir('modelfleet-metrics-'), 'metrics.jsonl');
    writeFileSync(metrics, '{"level":"info","message":"listening"}\n');
    env = {
      MODEL_REPOSITORY: repository.store.url,
      MODELFLEET_ACTOR: 'tester',
      MODELFLEET_METRICS: `local:${metrics}`,
    };
  });

  it('refuses bad plans naming the flag', async () => {
    await expect(cli(['rollout', 'iris', '2', '--steps', '10,abc'], env)).rejects.toThrow(
      new UsageError('--steps: expected weights from 1 to 100 separated by commas, got "10,abc"'),
    );
    await expect(cli(['rollout', 'iris', '2', '--bake', 'soon'], env)).rejects.toThrow(
      /--bake: expected a duration/,
    );
    await expect(cli(['rollout', 'iris', '2', '--max-error-rate', '2'], env)).rejects.toThrow(
      '--max-error-rate: expected a number from 0 to 1, got "2"',
    );
    await expect(cli(['rollout', 'iris', 'x'], env)).rejects.toThrow(UsageError);
  });

  it('starts, pauses, resumes, is advanced and rolled back by guard --once, and status --wait fails', async () => {
    const started = await cli(
      [
        'rollout',
        'iris',
        '2',
        '--steps',
        '10,50',
        '--bake',
        '2s',
        '--min-requests',
        '100',
        '--max-p99-ratio',
        '2',
      ],
      env,
    );
    expect(started).toContain(
      'iris@local: rollout of v2 progressing at 10%, step 1 of 3 (10,50,100%), bake 2s',
    );
    const status = JSON.parse(await cli(['rollout', 'status', 'iris', '--json'], env));
    expect(status.thresholds).toMatchObject({ minRequests: 100, minWarmRequests: 100, maxP99Ratio: 2 });
    expect(await cli(['rollout', 'pause', 'iris'], env)).toContain('rollout of v2 paused at 10%');
    expect(await cli(['guard', '--once'], env)).toBe('iris@local: rollout paused');
    expect(await cli(['rollout', 'resume', 'iris'], env)).toContain('progressing at 10%');

    await nextSecond();
    appendFileSync(metrics, lines('primary', 1, 900, 9) + lines('canary', 2, 150, 1));
    expect(await cli(['guard', '--once'], env)).toMatch(
      /^iris@local: holding at 10% — healthy at 10%, baked \d of 2s$/,
    );
    await pause(2000);
    expect(await cli(['guard', 'iris', '--once'], env)).toMatch(
      /^iris@local: advanced 10% → 50% — healthy at 10% for 2s/,
    );

    await nextSecond();
    appendFileSync(metrics, lines('primary', 1, 500, 5) + lines('canary', 2, 500, 100));
    expect(await cli(['guard', '--once'], env)).toMatch(
      /^iris@local: ROLLED BACK at 50% — canary errors 100\/500 \(20\.00%\)/,
    );
    await expect(cli(['rollout', 'status', 'iris', '--wait', '--interval', '10ms'], env)).rejects.toThrow(
      RolloutFailedError,
    );
    expect(await cli(['show', 'iris'], env)).toMatch(
      /rollout 2 advanced to 50% by guard:local — healthy[^\n]*\n.*rollout 2 rolled back to primary=1:100 by guard:local — canary errors/,
    );
  });

  it('status --wait exits 0 once the guard promotes, and fails when a person cancels the rollout', async () => {
    await cli(['rollout', 'iris', '2', '--steps', '50', '--bake', '1s', '--min-requests', '100'], env);
    const waiting = cli(
      ['rollout', 'status', 'iris', '--wait', '--interval', '100ms', '--timeout', '20s'],
      env,
    );
    await nextSecond();
    appendFileSync(metrics, lines('primary', 1, 400, 4) + lines('canary', 2, 400, 4));
    await pause(1000);
    expect(await cli(['guard', '--once'], env)).toMatch(/^iris@local: promoted \(100%\)/);
    await expect(waiting).resolves.toContain('rollout of v2 succeeded at 100%');

    await cli(['rollout', 'iris', '1', '--steps', '20', '--bake', '1h'], env);
    const cancelled = cli(['rollout', 'status', 'iris', '--wait', '--interval', '50ms'], env);
    await cli(['canary', 'iris', '1', '--weight', '5'], env);
    await expect(cancelled).rejects.toThrow('iris@local: the rollout of v1 was cancelled by a manual change');
  });
});
