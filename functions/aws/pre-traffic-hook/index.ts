/**
 * The pre-traffic hook's entry (serverless.yml: functions/aws/pre-traffic-hook/index.handler):
 * settings and clients once per instance, then `createHookHandler` (hook.ts) per CodeDeploy event.
 */
import { parseConfig } from '../../../shared/config';
import { parseAwsCallSettings, parseHookTarget } from '../../../shared/config/aws';
import type { SmokeReport } from '../../../shared/control/smoke-test';
import { ModelRepository } from '../../../shared/repository/repository';
import { openStore } from '../../../shared/store';
import { awsControlPlane } from './control-plane';
import { createHookHandler, type HookEvent } from './hook';

let handlerInstance: ReturnType<typeof createHookHandler> | undefined;

export const handler = async (event: HookEvent): Promise<SmokeReport> => {
  const controlPlane = awsControlPlane(parseAwsCallSettings(process.env));
  try {
    if (handlerInstance === undefined) {
      const config = parseConfig(process.env);
      const repository = new ModelRepository(openStore(config.repository, config.store));
      handlerInstance = createHookHandler({
        controlPlane,
        repository,
        stage: config.stage,
        targetVersionArn: parseHookTarget(process.env),
      });
    }
  } catch (err) {
    // A misconfigured hook still answers, so that the rollout fails now rather than in an hour.
    await controlPlane.reportHookStatus({
      deploymentId: event.DeploymentId,
      lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
      status: 'Failed',
    });
    throw err;
  }
  return handlerInstance(event);
};
