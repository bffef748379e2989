import { readFileSync } from 'node:fs';
import path from 'node:path';
import { housePriceModel, IRIS_FEATURES, irisModel } from '../../scripts/lib/sample-models';
import { type App, createApp } from '../../shared/app';
import { type Config, parseConfig } from '../../shared/config';
import { packageModel } from '../../shared/control/packaging';
import { type DeploymentConfig, promote } from '../../shared/repository/deployment';
import type { ModelRepository } from '../../shared/repository/repository';
import { silentLogger } from '../../shared/telemetry/log';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { sampleRepository } from '../support/fixtures';
import { seededRandom } from '../support/random';

export const samplesDir = path.join(__dirname, '..', '..', 'samples');
export const irisRequest = JSON.parse(readFileSync(path.join(samplesDir, 'iris', 'request.json'), 'utf8'));
export const houseRequest = JSON.parse(
  readFileSync(path.join(samplesDir, 'house-price', 'request.json'), 'utf8'),
);
export { IRIS_FEATURES };

/**
 * The sample repository plus iris version 2 (the second sample row flips from class 2 to class 1)
 * and house-price version 2 (every price 10 higher). Both samples' version 1 is deployed on `local`.
 */
export async function twoVersionRepository(): Promise<ModelRepository> {
  const repository = await sampleRepository();
  const iris2 = await packageModel({
    name: 'iris',
    artifact: irisModel([9.85, 5.5, -12.09]),
    features: IRIS_FEATURES,
  });
  expect(await repository.publish(iris2)).toBe(2);
  const house2 = await packageModel({ name: 'house-price', artifact: housePriceModel(60) });
  expect(await repository.publish(house2)).toBe(2);
  return repository;
}

export interface TrafficApp {
  app: App;
  repository: ModelRepository;
  events: RequestMetricEvent[];
}

/** An app over `repository` with a seeded random source and a TTL of 0 (config changes apply at once). */
export function trafficApp(
  repository: ModelRepository,
  overrides: Partial<Config> = {},
  seed = 7,
): TrafficApp {
  const events: RequestMetricEvent[] = [];
  const config = { ...parseConfig({}), deploymentTtlMs: 0, ...overrides, repository: repository.store.url };
  const app = createApp({
    config,
    store: repository.store,
    metrics: (event) => events.push(event),
    log: silentLogger,
    random: seededRandom(seed),
  });
  return { app, repository, events };
}

export async function deploy(
  repository: ModelRepository,
  model: string,
  change: (current: DeploymentConfig) => DeploymentConfig,
): Promise<DeploymentConfig> {
  return repository.updateDeployment(model, 'local', (current) =>
    change(current ?? promote(undefined, { model, stage: 'local', version: 1 }, new Date())),
  );
}
