import { housePriceModel, IRIS_FEATURES, irisModel } from '../../scripts/lib/sample-models';
import type { Config } from '../../shared/config';
import { packageModel } from '../../shared/control/packaging';
import { type DeploymentConfig, promote } from '../../shared/repository/deployment';
import type { ModelRepository } from '../../shared/repository/repository';
import { buildTestApp, sampleRepository, sampleRequest, type TestApp } from '../support/fixtures';

export const irisRequest = sampleRequest('iris');
export const houseRequest = sampleRequest('house-price');
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

export type TrafficApp = TestApp;

/** An app over `repository` with a seeded random source and a TTL of 0 (config changes apply at once). */
export function trafficApp(
  repository: ModelRepository,
  overrides: Partial<Config> = {},
  seed = 7,
): TrafficApp {
  return buildTestApp(repository, { config: { deploymentTtlMs: 0, ...overrides }, seed });
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
