import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { runSmokeTests, type SmokeReport } from '../../../shared/control/smoke-test';
import type { ServeRequest } from '../../../shared/http/request';
import type { ModelRepository } from '../../../shared/repository/repository';
import { fromApiGatewayV2Result, toApiGatewayV2Event } from '../events';
import type { HookControlPlane } from './control-plane';

/** What CodeDeploy passes to a BeforeAllowTraffic hook. */
export interface HookEvent {
  DeploymentId: string;
  LifecycleEventHookExecutionId: string;
}

export interface HookDependencies {
  controlPlane: HookControlPlane;
  repository: ModelRepository;
  stage: string;
  /** The new version's ARN: TARGET_VERSION_ARN, set by infra/aws/modelfleet-plugin.js. */
  targetVersionArn: string;
  log?: (line: Record<string, unknown>) => void;
}

/**
 * CodeDeploy BeforeAllowTraffic hook: runs every deployed model's manifest sample through the new
 * version (which serves no traffic yet) and reports Succeeded only if all match. Any exception is
 * reported as Failed: an unreported hook would hold the deployment for an hour.
 */
export function createHookHandler(deps: HookDependencies) {
  const log = deps.log ?? ((line) => console.log(JSON.stringify(line)));
  return async (event: HookEvent): Promise<SmokeReport> => {
    if (typeof event?.DeploymentId !== 'string' || typeof event.LifecycleEventHookExecutionId !== 'string') {
      throw new Error(
        'not a CodeDeploy hook event: DeploymentId and LifecycleEventHookExecutionId are required',
      );
    }
    let report: SmokeReport;
    try {
      report = await runSmokeTests(deps.repository, deps.stage, (request) =>
        invokeVersion(deps.controlPlane, deps.targetVersionArn, request),
      );
    } catch (err) {
      report = { ok: false, checks: [], problems: [`smoke test crashed: ${(err as Error).message}`] };
    }
    log({
      msg: 'pre-traffic smoke test',
      target: deps.targetVersionArn,
      deploymentId: event.DeploymentId,
      ...report,
    });
    await deps.controlPlane.reportHookStatus({
      deploymentId: event.DeploymentId,
      lifecycleEventHookExecutionId: event.LifecycleEventHookExecutionId,
      status: report.ok ? 'Succeeded' : 'Failed',
    });
    return report;
  };
}

export const PRE_TRAFFIC_CALLER = 'modelfleet:pre-traffic-hook';

/** Sends a request to the new version as a Function URL (payload v2) event. */
async function invokeVersion(controlPlane: HookControlPlane, arn: string, request: ServeRequest) {
  // This invoke is IAM-authorized (lambda:InvokeFunction), like an IAM-auth Function URL call: the
  // function trusts it as a platform caller (PLATFORM_CALLER_SCOPES, SECURITY.md), so the hook
  // needs no API key to reach pinned versions.
  const result = await controlPlane.invoke(arn, toApiGatewayV2Event(request, PRE_TRAFFIC_CALLER));
  if (result.functionError !== undefined) {
    return {
      status: 0,
      body: `the function failed (${result.functionError}): ${result.payload.slice(0, 500)}`,
    };
  }
  return fromApiGatewayV2Result(JSON.parse(result.payload) as Partial<APIGatewayProxyStructuredResultV2>);
}
