import { IRIS_FEATURES, irisModel } from '../../scripts/lib/sample-models';
import { publishMissingSamples } from '../../scripts/lib/samples';
import type { App } from '../../shared/app';
import { type Config, parseConfig } from '../../shared/config';
import { packageModel } from '../../shared/control/packaging';
import { type DeploymentConfig, promote, rollback, setCanary } from '../../shared/repository/deployment';
import { CAPTURE_DIR, FEEDBACK_DIR, recordBatchKey } from '../../shared/repository/layout';
import { ModelRepository } from '../../shared/repository/repository';
import type { MonitoringSettings } from '../../shared/serving/monitoring';
import type { ModelStore } from '../../shared/store';
import { type CaptureRecord, encodeBatch, type FeedbackRecord } from '../../shared/telemetry/capture';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { buildTestApp } from '../support/fixtures';
import { seededRandom } from '../support/random';

export interface MonitoredApp {
  app: App;
  repository: ModelRepository;
  events: RequestMetricEvent[];
}

/** An app on `store` (samples published on `local`) with the given monitoring settings. */
export async function monitoredApp(
  store: ModelStore,
  monitoring: Partial<MonitoringSettings>,
  overrides: Partial<Config> = {},
  seed = 7,
): Promise<MonitoredApp> {
  const repository = new ModelRepository(store);
  await publishMissingSamples(repository, ['local']);
  const base = parseConfig({});
  return buildTestApp(repository, {
    config: { deploymentTtlMs: 3_600_000, ...overrides, monitoring: { ...base.monitoring, ...monitoring } },
    seed,
  });
}

/** Rows around the three iris species' means, deterministic. */
export function irisRows(count: number, random: () => number): number[][] {
  const means = [
    [5.0, 3.4, 1.5, 0.2],
    [5.9, 2.8, 4.3, 1.3],
    [6.6, 3.0, 5.6, 2.0],
  ];
  return Array.from({ length: count }, (_, i) =>
    (means[i % 3] as number[]).map((mean) => Math.round((mean + (random() - 0.5) * 1.6) * 100) / 100),
  );
}

const MINUTE = 60_000;

/**
 * Three hours of a canary that goes wrong, written to the store as serving would have written
 * it: v1 promoted, v2 canaried at 10 % then 50 %, less accurate and slower, its petal_width input
 * drifting, then rolled back. Deterministic (seeded).
 */
export async function writeCanaryHistory(
  repository: ModelRepository,
  model: string,
  now: Date,
): Promise<void> {
  const random = seededRandom(21);
  const at = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * MINUTE);
  for (const version of [1, 2]) {
    await repository.publish(
      await packageModel({ name: model, artifact: irisModel(), features: IRIS_FEATURES, version }),
      { version },
    );
  }
  const steps: [number, (c: DeploymentConfig | undefined) => DeploymentConfig][] = [
    [180, (c) => promote(c, { model, stage: 'local', version: 1 }, at(180), 'history')],
    [150, (c) => setCanary(c, 2, 10, at(150), 'history')],
    [100, (c) => setCanary(c, 2, 50, at(100), 'history')],
    [40, (c) => rollback(c, at(40), 'history')],
  ];
  for (const [, step] of steps) await repository.updateDeployment(model, 'local', step);
  const canaryWeight = (minutesAgo: number) =>
    minutesAgo > 150 || minutesAgo <= 40 ? 0 : minutesAgo > 100 ? 0.1 : 0.5;
  for (let start = 180; start > 0; start -= 10) {
    const captures: CaptureRecord[] = [];
    const feedback: FeedbackRecord[] = [];
    for (let m = start; m > start - 10; m--) {
      for (let i = 0; i < 20; i++) {
        const canary = random() < canaryWeight(m);
        const id = `h-${m}-${i}`;
        const time = new Date(at(m).getTime() + i * 2000).toISOString();
        const truth = Math.floor(random() * 3);
        const right = random() < (canary ? 0.78 : 0.95);
        const label = right ? truth : (truth + 1) % 3;
        captures.push({
          kind: 'request',
          id,
          time,
          model,
          version: canary ? 2 : 1,
          variant: canary ? 'canary' : 'primary',
          stage: 'local',
          status: random() < (canary ? 0.04 : 0.005) ? 500 : 200,
          latencyMs: Math.round((canary ? 9 : 4) * Math.exp(random() * 1.2) * 1000) / 1000,
          outputs: [{ name: 'label', datatype: 'INT64', shape: [1], data: [label] }],
        });
        if (random() < 0.6) feedback.push({ id, time, model, label: truth });
      }
    }
    for (const [variant, version, weight] of [
      ['primary', 1, 1],
      ['canary', 2, canaryWeight(start)],
    ] as const) {
      if (weight === 0) continue;
      const drift = variant === 'canary' ? 0.05 + (150 - start) * 0.006 : 0.02 + random() * 0.03;
      captures.push({
        kind: 'drift',
        time: at(start - 9).toISOString(),
        model,
        version,
        variant,
        stage: 'local',
        rows: 200,
        psi: {
          sepal_length: 0.01,
          sepal_width: 0.02,
          petal_length: 0.03,
          petal_width: Math.round(drift * 1000) / 1000,
        },
      });
    }
    const first = at(start);
    await repository.store.put(
      recordBatchKey(model, CAPTURE_DIR, 'local', first, `h${start}`),
      await encodeBatch(captures),
    );
    await repository.store.put(
      recordBatchKey(model, FEEDBACK_DIR, 'local', first, `h${start}`),
      await encodeBatch(feedback),
    );
  }
}
