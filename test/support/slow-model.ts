export { SLOW_REQUEST, slowModel } from '../../scripts/lib/slow-model';

import { packageModel } from '../../shared/control/packaging';
import { promote } from '../../shared/repository/deployment';
import type { ModelRepository } from '../../shared/repository/repository';

/** Publishes a model (no sample: packaging would run it) and deploys it on `stage`. */
export async function deployModel(
  repository: ModelRepository,
  name: string,
  artifact: Uint8Array,
  stage = 'local',
): Promise<void> {
  const version = await repository.publish(await packageModel({ name, artifact }));
  await repository.updateDeployment(name, stage, (current) =>
    promote(current, { model: name, stage, version }, new Date(), 'test'),
  );
}
