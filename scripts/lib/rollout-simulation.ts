/**
 * A seeded simulation of managed rollouts through the real decision function and executor:
 * synthetic requests are drawn per window for the primary and the canary, fed to the local
 * source's aggregator as request events (so cold starts and 4xx are excluded exactly as in
 * production), and the guard then judges and writes the stage's deployment config by CAS.
 */
import { LocalMetricSource, MetricAggregator } from '../../shared/control/metric-sources/local';
import { packageModel } from '../../shared/control/packaging';
import { guardRollout } from '../../shared/control/rollout-guard';
import { CANARY, promote } from '../../shared/repository/deployment';
import type { ModelRepository } from '../../shared/repository/repository';
import { startRollout } from '../../shared/repository/rollout';
import type { RolloutThresholds } from '../../shared/repository/rollout-plan';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { seededRandom } from './random';
import { IRIS_BIAS, irisModel } from './sample-models';

export interface Behaviour {
  serverErrorRate: number;
  clientErrorRate: number;
  /** Median warm latency (ms); latencies are log-normal with `latencySigma`. */
  latencyMedianMs: number;
  latencySigma: number;
  accuracy: number;
  /** Cold-start share in the first window of each step, and how much slower those requests are. */
  coldBurst?: { share: number; slowdown: number };
}

export interface Scenario {
  name: string;
  /** true: the canary is bad and must be rolled back; false: it must not be. */
  bad: boolean;
  primary: Behaviour;
  canary: Behaviour;
  requestsPerWindow: number;
  /** Share of successful requests that get feedback (labels), 0 for none. */
  feedbackShare: number;
}

export interface SimulationSettings {
  rollouts: number;
  seed: number;
  windowSeconds: number;
  steps: number[];
  bakeWindows: number;
  maxWindows: number;
  thresholds?: Partial<RolloutThresholds>;
}

export interface ScenarioResult {
  scenario: string;
  bad: boolean;
  rollouts: number;
  rolledBack: number;
  rolledBackWithin2Windows: number;
  promoted: number;
  unfinished: number;
  /** Verdicts other than hold made while the canary had fewer judged requests than the minimum. */
  verdictsBelowMinimum: number;
  meanWindowsToRollback: number;
  /** Rollbacks by the check that failed (errors, error-ceiling, latency, accuracy). */
  rollbacksBy: Record<string, number>;
  firstReasons: string[];
}

export const HEALTHY: Behaviour = {
  serverErrorRate: 0.01,
  clientErrorRate: 0.03,
  latencyMedianMs: 20,
  latencySigma: 0.5,
  accuracy: 0.9,
};

/** The scenarios of issue 15's "Done when", at `requestsPerWindow` requests per window. */
export function standardScenarios(requestsPerWindow: number): Scenario[] {
  const scenario = (name: string, bad: boolean, canary: Partial<Behaviour>, feedbackShare = 0): Scenario => ({
    name,
    bad,
    primary: HEALTHY,
    canary: { ...HEALTHY, ...canary },
    requestsPerWindow,
    feedbackShare,
  });
  return [
    scenario('healthy', false, {}),
    scenario('healthy with feedback', false, {}, 1),
    scenario('cold-start burst only', false, { coldBurst: { share: 0.4, slowdown: 10 } }),
    scenario('3x server errors', true, { serverErrorRate: 0.03 }),
    scenario('2x warm p99', true, { latencyMedianMs: 40 }),
    scenario('5 points less accuracy', true, { accuracy: 0.85 }, 1),
  ];
}

export { seededRandom };

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

export async function simulateScenario(
  repository: ModelRepository,
  scenario: Scenario,
  settings: SimulationSettings,
): Promise<ScenarioResult> {
  const result: ScenarioResult = {
    scenario: scenario.name,
    bad: scenario.bad,
    rollouts: settings.rollouts,
    rolledBack: 0,
    rolledBackWithin2Windows: 0,
    promoted: 0,
    unfinished: 0,
    verdictsBelowMinimum: 0,
    meanWindowsToRollback: 0,
    rollbacksBy: {},
    firstReasons: [],
  };
  let windowsToRollback = 0;
  for (let i = 0; i < settings.rollouts; i++) {
    const outcome = await simulateRollout(repository, scenario, settings, settings.seed * 1_000_003 + i, i);
    result.verdictsBelowMinimum += outcome.verdictsBelowMinimum;
    if (outcome.end === 'rolled-back') {
      result.rolledBack += 1;
      windowsToRollback += outcome.windows;
      if (outcome.windows <= 2) result.rolledBackWithin2Windows += 1;
      for (const check of outcome.failed) result.rollbacksBy[check] = (result.rollbacksBy[check] ?? 0) + 1;
      if (result.firstReasons.length < 2) result.firstReasons.push(outcome.reason);
    } else if (outcome.end === 'succeeded') result.promoted += 1;
    else result.unfinished += 1;
  }
  result.meanWindowsToRollback = result.rolledBack === 0 ? 0 : windowsToRollback / result.rolledBack;
  return result;
}

async function simulateRollout(
  repository: ModelRepository,
  scenario: Scenario,
  settings: SimulationSettings,
  seed: number,
  index: number,
): Promise<{ end: string; windows: number; reason: string; failed: string[]; verdictsBelowMinimum: number }> {
  const random = seededRandom(seed);
  const stage = `sim${index}`;
  const model = 'iris';
  let clock = Date.UTC(2026, 0, 1) + index * 86_400_000;
  const now = () => new Date(clock);
  await repository.updateDeployment(model, stage, (c) =>
    promote(c, { model, stage, version: 1 }, now(), 'sim'),
  );
  const started = await repository.updateDeployment(model, stage, (c) =>
    startRollout(
      c,
      {
        version: 2,
        steps: settings.steps,
        bakeSeconds: settings.bakeWindows * settings.windowSeconds,
        ...(settings.thresholds === undefined ? {} : { thresholds: settings.thresholds }),
      },
      now(),
      'sim',
    ),
  );
  const minRequests = started.rollout?.thresholds.minRequests ?? 0;
  const source = new LocalMetricSource(new MetricAggregator());
  const deps = { repository, source, now, actor: 'guard:simulation' };
  let weight = settings.steps[0] ?? 0;
  let freshStep = true;
  let verdictsBelowMinimum = 0;
  for (let window = 1; window <= settings.maxWindows; window++) {
    drawWindow(
      source.aggregator,
      scenario,
      { model, stage, weight, freshStep, start: clock, random },
      settings,
    );
    clock += settings.windowSeconds * 1000;
    const outcome = await guardRollout(deps, model, stage);
    const canary = outcome.window?.canary;
    const judged = canary === undefined ? 0 : canary.requests - canary.clientErrors;
    if ((outcome.action === 'advance' || outcome.action === 'rollback') && judged < minRequests)
      verdictsBelowMinimum++;
    if (outcome.action === 'rollback') {
      const failed = (outcome.verdict?.checks ?? []).filter((c) => c.status === 'fail').map((c) => c.name);
      return { end: 'rolled-back', windows: window, reason: outcome.reason, failed, verdictsBelowMinimum };
    }
    freshStep = outcome.action === 'advance';
    if (outcome.action === 'advance') {
      if (outcome.nextWeight === 100)
        return {
          end: 'succeeded',
          windows: window,
          reason: outcome.reason,
          failed: [],
          verdictsBelowMinimum,
        };
      weight = outcome.nextWeight ?? weight;
    }
  }
  return { end: 'unfinished', windows: settings.maxWindows, reason: '', failed: [], verdictsBelowMinimum };
}

function drawWindow(
  aggregator: MetricAggregator,
  scenario: Scenario,
  at: {
    model: string;
    stage: string;
    weight: number;
    freshStep: boolean;
    start: number;
    random: () => number;
  },
  settings: SimulationSettings,
): void {
  const { random } = at;
  const stamps = Array.from({ length: settings.windowSeconds }, (_, s) =>
    new Date(at.start + s * 1000).toISOString(),
  );
  for (let n = 0; n < scenario.requestsPerWindow; n++) {
    const onCanary = random() * 100 < at.weight;
    const behaviour = onCanary ? scenario.canary : scenario.primary;
    const timestamp = stamps[Math.floor(random() * stamps.length)] ?? '';
    const draw = random();
    const status =
      draw < behaviour.serverErrorRate
        ? 503
        : draw < behaviour.serverErrorRate + behaviour.clientErrorRate
          ? 400
          : 200;
    const burst = onCanary && at.freshStep ? behaviour.coldBurst : undefined;
    const coldStart = burst !== undefined && random() < burst.share;
    const warmMs = behaviour.latencyMedianMs * Math.exp(behaviour.latencySigma * normal(random));
    const event: RequestMetricEvent = {
      timestamp,
      requestId: '',
      stage: at.stage,
      route: 'infer',
      method: 'POST',
      status,
      model: at.model,
      version: onCanary ? 2 : 1,
      variant: onCanary ? CANARY : 'primary',
      coldStart,
      latencyMs: coldStart ? warmMs * (burst?.slowdown ?? 1) : warmMs,
    };
    aggregator.record(event);
    if (status === 200 && random() < scenario.feedbackShare) {
      aggregator.recordFeedback({
        timestamp,
        model: at.model,
        stage: at.stage,
        variant: event.variant ?? '',
        version: event.version ?? 0,
        correct: random() < behaviour.accuracy,
      });
    }
  }
}

export function formatResults(results: ScenarioResult[], requestsPerWindow: number): string {
  const rows = results.map((r) => {
    const pct = (n: number) => `${((100 * n) / r.rollouts).toFixed(1)}%`;
    return `| ${r.scenario} | ${r.bad ? 'bad' : 'healthy'} | ${r.rollouts} | ${pct(r.rolledBack)} | ${pct(r.rolledBackWithin2Windows)} | ${pct(r.promoted)} | ${r.meanWindowsToRollback.toFixed(2)} | ${
      Object.entries(r.rollbacksBy)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || '-'
    } | ${r.verdictsBelowMinimum} |`;
  });
  return [
    `${requestsPerWindow} requests per window:`,
    '| scenario | canary | rollouts | rolled back | within 2 windows | promoted | mean windows to rollback | failed checks | verdicts below min samples |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** The settings the figures in docs/operations.md were produced with. */
export const SIMULATION_SETTINGS: SimulationSettings = {
  rollouts: 200,
  seed: 15,
  windowSeconds: 60,
  steps: [10, 25, 50, 100],
  bakeWindows: 2,
  maxWindows: 12,
};

/** iris version 1 and a version 2 (the simulation only needs two intact versions to route). */
export async function publishSimulationModels(repository: ModelRepository): Promise<void> {
  for (const bias of [IRIS_BIAS, [9.85, 5.5, -12.09]]) {
    await repository.publish(await packageModel({ name: 'iris', artifact: irisModel(bias) }));
  }
}
