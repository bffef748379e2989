/**
 * The managed-rollout commands of the CLI: `rollout`, `rollout status|pause|resume|abort` and
 * `guard`. scripts/cli.ts only registers them (options, usage and one dispatch), so they can move
 * with the command table.
 */
import { parseGuardSettings } from '../../shared/config/guard';
import { openMetricSource } from '../../shared/control/metric-sources/open';
import { describeOutcome, guardRollout, guardStage } from '../../shared/control/rollout-guard';
import type { DeploymentConfig } from '../../shared/repository/deployment';
import type { ModelRepository } from '../../shared/repository/repository';
import {
  abortRollout,
  pauseRollout,
  type RolloutPlan,
  resumeRollout,
  startRollout,
} from '../../shared/repository/rollout';
import { FINISHED_STATES, type Rollout, type RolloutThresholds } from '../../shared/repository/rollout-plan';
import type { OptionSpecs } from './command-line';

const LIVE_OPTIONS = {
  interval: { type: 'string', value: 'DURATION', description: 'between checks (default 10s)' },
  timeout: { type: 'string', value: 'DURATION', description: 'give up waiting after this long' },
} as const satisfies OptionSpecs;

export const ROLLOUT_OPTIONS = {
  steps: { type: 'string', value: '10,25,50,100', description: 'canary weights, ending at 100' },
  bake: { type: 'string', value: 'DURATION', description: 'healthy time at a step before the next (5m)' },
  'max-error-rate': {
    type: 'string',
    value: 'R',
    description: 'server-error rate the canary may not exceed',
  },
  'max-error-ratio': {
    type: 'string',
    value: 'X',
    description: "canary's error rate over the primary's (1.2)",
  },
  'max-p99-ratio': { type: 'string', value: 'X', description: "canary's warm p99 over the primary's" },
  'min-requests': { type: 'string', value: 'N', description: 'no verdict below this many canary requests' },
  'max-accuracy-drop': { type: 'string', value: 'D', description: 'accuracy the canary may lose (feedback)' },
  'min-feedback': { type: 'string', value: 'N', description: 'labelled requests needed to judge accuracy' },
  wait: { type: 'boolean', description: 'status: wait until the rollout ends (exit 0 promoted, 1 not)' },
  reason: { type: 'string', value: 'TEXT', description: 'recorded in the deployment history' },
  ...LIVE_OPTIONS,
} as const satisfies OptionSpecs;

export const GUARD_OPTIONS = {
  once: { type: 'boolean', description: 'judge once and exit (for cron)' },
  metrics: {
    type: 'string',
    value: 'SOURCE',
    description: 'local:FILE, cloudwatch, cloud-monitoring or log-analytics (default $MODELFLEET_METRICS)',
  },
  ...LIVE_OPTIONS,
} as const satisfies OptionSpecs;

/** A rollout the caller waited on ended without being promoted. */
export class RolloutFailedError extends Error {
  override name = 'RolloutFailedError';
}

type Values = Readonly<Record<string, string | boolean | undefined>>;

export interface RolloutContext {
  repository: () => ModelRepository;
  stage: string;
  env: NodeJS.ProcessEnv;
  actor: string;
  json: boolean;
  output: (human: string, data: unknown) => void;
  usage: (message: string) => Error;
  sleep?: (ms: number) => Promise<void>;
}

export async function runRolloutCommand(
  command: 'rollout' | 'guard',
  args: string[],
  values: Values,
  ctx: RolloutContext,
): Promise<void> {
  if (command === 'guard') return guard(args, values, ctx);
  const [first, model] = args;
  const change = (fn: (c: DeploymentConfig | undefined) => DeploymentConfig) =>
    ctx.repository().updateDeployment(need(model, 'model', ctx), ctx.stage, fn);
  const reason = typeof values['reason'] === 'string' ? values['reason'] : undefined;
  switch (first) {
    case 'status':
      return status(need(model, 'model', ctx), values, ctx);
    case 'pause':
      return report(await change((c) => pauseRollout(c, new Date(), ctx.actor, reason)), ctx);
    case 'resume':
      return report(await change((c) => resumeRollout(c, new Date(), ctx.actor, reason)), ctx);
    case 'abort':
      return report(await change((c) => abortRollout(c, new Date(), ctx.actor, reason)), ctx);
    default: {
      if (args.length !== 2)
        throw ctx.usage('rollout: expected <model> <version> (or status|pause|resume|abort <model>)');
      const plan = parsePlan(args[1] ?? '', values, ctx);
      const name = first ?? '';
      const config = await ctx
        .repository()
        .updateDeployment(name, ctx.stage, (c) => startRollout(c, plan, new Date(), ctx.actor));
      return report(config, ctx);
    }
  }
}

function need(value: string | undefined, what: string, ctx: RolloutContext): string {
  if (value === undefined || value === '') throw ctx.usage(`expected <${what}>`);
  return value;
}

/** `5m`, `30s`, `2h` or plain seconds. */
export function parseDuration(text: string, what: string, ctx: Pick<RolloutContext, 'usage'>): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null)
    throw ctx.usage(`${what}: expected a duration like 30s, 5m or 1h, got ${JSON.stringify(text)}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600 }[(match[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Number(match[1]) * unit;
}

function parsePlan(versionText: string, values: Values, ctx: RolloutContext): RolloutPlan {
  if (!/^[1-9]\d{0,8}$/.test(versionText)) {
    throw ctx.usage(`version: expected a positive integer, got ${JSON.stringify(versionText)}`);
  }
  const stepsText = typeof values['steps'] === 'string' ? values['steps'] : '10,25,50,100';
  const steps = stepsText.split(',').map((s) => s.trim());
  if (steps.some((s) => !/^\d{1,3}$/.test(s) || Number(s) < 1 || Number(s) > 100)) {
    throw ctx.usage(
      `--steps: expected weights from 1 to 100 separated by commas, got ${JSON.stringify(stepsText)}`,
    );
  }
  const weights = steps.map(Number);
  // `--steps 10,50` means: then 100; a plan always ends with the promotion.
  if (weights.at(-1) !== 100) weights.push(100);
  const bake = parseDuration(typeof values['bake'] === 'string' ? values['bake'] : '5m', '--bake', ctx);
  const thresholds: Partial<RolloutThresholds> = {};
  const number = (flag: string, key: keyof RolloutThresholds, min: number, max: number, integer = false) => {
    const raw = values[flag];
    if (typeof raw !== 'string') return;
    const value = Number(raw);
    if (
      raw.trim() === '' ||
      !Number.isFinite(value) ||
      value < min ||
      value > max ||
      (integer && !Number.isInteger(value))
    ) {
      throw ctx.usage(
        `--${flag}: expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw)}`,
      );
    }
    thresholds[key] = value;
  };
  number('max-error-rate', 'maxErrorRate', 0, 1);
  number('max-error-ratio', 'maxErrorRatio', 1, 100);
  number('max-p99-ratio', 'maxP99Ratio', 1, 100);
  number('min-requests', 'minRequests', 1, 1e9, true);
  number('max-accuracy-drop', 'maxAccuracyDrop', 0, 1);
  number('min-feedback', 'minFeedback', 1, 1e9, true);
  // One sample floor for every check unless a check's own is given.
  if (thresholds.minRequests !== undefined) {
    thresholds.minWarmRequests = thresholds.minRequests;
    thresholds.minFeedback ??= thresholds.minRequests;
  }
  return {
    version: Number(versionText),
    steps: weights,
    bakeSeconds: Math.max(1, Math.round(bake)),
    thresholds,
  };
}

export function describeRollout(config: DeploymentConfig): string {
  const rollout = config.rollout;
  const where = `${config.model}@${config.stage}`;
  const serving = config.variants.map((v) => `${v.name} v${v.version} ${v.weight}%`).join(', ');
  if (rollout === undefined) return `${where}: no managed rollout (serving ${serving})`;
  const step = `step ${rollout.stepIndex + 1} of ${rollout.steps.length} (${rollout.steps.join(',')}%)`;
  const lines = [
    `${where}: rollout of v${rollout.version} ${rollout.state} at ${rollout.steps[rollout.stepIndex]}%, ${step}, bake ${rollout.bakeSeconds}s`,
    `serving: ${serving}`,
  ];
  if (rollout.reason !== undefined) lines.push(`last change by ${rollout.actor ?? '?'}: ${rollout.reason}`);
  return lines.join('\n');
}

function report(config: DeploymentConfig, ctx: RolloutContext): void {
  ctx.output(describeRollout(config), config.rollout ?? null);
}

/** Polls until the rollout (the one active when called) finishes; a pipeline gates on the exit code. */
async function status(model: string, values: Values, ctx: RolloutContext): Promise<void> {
  const repository = ctx.repository();
  const read = async () => {
    const result = await repository.readDeployment(model, ctx.stage);
    if (result.status !== 'ok') throw ctx.usage(`${model} is not deployed on stage ${ctx.stage}`);
    return result.config;
  };
  let config = await read();
  if (values['wait'] !== true) return report(config, ctx);
  const watched = config.rollout;
  if (watched === undefined)
    throw new RolloutFailedError(`${model}@${ctx.stage}: there is no rollout to wait for`);
  const interval = parseDuration(
    typeof values['interval'] === 'string' ? values['interval'] : '10s',
    '--interval',
    ctx,
  );
  const timeout = parseDuration(
    typeof values['timeout'] === 'string' ? values['timeout'] : '2h',
    '--timeout',
    ctx,
  );
  const sleep = ctx.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const deadline = Date.now() + timeout * 1000;
  let last = '';
  for (;;) {
    const rollout: Rollout | undefined = config.rollout?.id === watched.id ? config.rollout : undefined;
    const line =
      rollout === undefined ? 'cancelled' : `${rollout.state} ${rollout.steps[rollout.stepIndex]}%`;
    if (line !== last && !ctx.json) ctx.output(describeRollout(config), null);
    last = line;
    if (rollout === undefined) {
      throw new RolloutFailedError(
        `${model}@${ctx.stage}: the rollout of v${watched.version} was cancelled by a manual change`,
      );
    }
    if (FINISHED_STATES.includes(rollout.state)) {
      if (ctx.json) ctx.output('', rollout);
      if (rollout.state === 'succeeded') return;
      throw new RolloutFailedError(
        `${model}@${ctx.stage}: rollout of v${rollout.version} ${rollout.state}: ${rollout.reason ?? ''}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new RolloutFailedError(`${model}@${ctx.stage}: still ${rollout.state} after ${timeout}s`);
    }
    await sleep(interval * 1000);
    config = await read();
  }
}

async function guard(args: string[], values: Values, ctx: RolloutContext): Promise<void> {
  if (args.length > 1) throw ctx.usage('guard: expected [model]');
  const env =
    typeof values['metrics'] === 'string' ? { ...ctx.env, MODELFLEET_METRICS: values['metrics'] } : ctx.env;
  const settings = parseGuardSettings(env);
  const sleep = ctx.sleep ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
  const interval = parseDuration(
    typeof values['interval'] === 'string' ? values['interval'] : '60s',
    '--interval',
    ctx,
  );
  const [model] = args;
  for (;;) {
    // A fresh source each round: a local file of metric lines grows between rounds.
    const deps = {
      repository: ctx.repository(),
      source: openMetricSource(settings.metrics),
      actor: settings.actor,
    };
    const outcomes =
      model === undefined ? await guardStage(deps, ctx.stage) : [await guardRollout(deps, model, ctx.stage)];
    const printable = outcomes.map(({ window: _window, verdict: _verdict, ...rest }) => rest);
    ctx.output(
      outcomes.length === 0
        ? `no rollout in progress on stage ${ctx.stage}`
        : outcomes.map(describeOutcome).join('\n'),
      printable,
    );
    if (values['once'] === true) return;
    await sleep(interval * 1000);
  }
}
