import { publishMissingSamples } from '../../scripts/lib/samples';
import { type App, createApp } from '../../shared/app';
import { type Config, parseConfig } from '../../shared/config';
import { ModelRepository } from '../../shared/repository/repository';
import type { MonitoringSettings } from '../../shared/serving/monitoring';
import type { ModelStore } from '../../shared/store';
import { silentLogger } from '../../shared/telemetry/log';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
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
  const events: RequestMetricEvent[] = [];
  const app = createApp({
    config: {
      ...base,
      repository: store.url,
      deploymentTtlMs: 3_600_000,
      ...overrides,
      monitoring: { ...base.monitoring, ...monitoring },
    },
    store,
    metrics: (event) => events.push(event),
    log: silentLogger,
    random: seededRandom(seed),
  });
  return { app, repository, events };
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
