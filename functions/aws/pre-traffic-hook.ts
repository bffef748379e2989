import { parseConfig } from '../../shared/config';
import { runSmokeTests, type SmokeReport } from '../../shared/control/smoke-test';
import type { ServeRequest } from '../../shared/http/request';
import { ModelRepository } from '../../shared/repository/repository';
import { openStore } from '../../shared/store';
import { awsControlPlane, type HookControlPlane } from './control-plane';

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
  const body = typeof request.body === 'string' ? request.body : undefined;
  const result = await controlPlane.invoke(arn, {
    version: '2.0',
    rawPath: request.path,
    rawQueryString: '',
    headers: request.headers,
    requestContext: {
      http: { method: request.method, path: request.path, sourceIp: '127.0.0.1' },
      stage: '$default',
      // This invoke is IAM-authorized (lambda:InvokeFunction), like an IAM-auth Function URL call:
      // the function trusts it as a platform caller (PLATFORM_CALLER_SCOPES, SECURITY.md), so the
      // hook needs no API key to reach pinned versions.
      authorizer: { iam: { userArn: PRE_TRAFFIC_CALLER } },
    },
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body }),
  });
  if (result.functionError !== undefined) {
    return {
      status: 0,
      body: `the function failed (${result.functionError}): ${result.payload.slice(0, 500)}`,
    };
  }
  const response = JSON.parse(result.payload) as {
    statusCode?: number;
    body?: string;
    isBase64Encoded?: boolean;
  };
  const text = response.isBase64Encoded
    ? Buffer.from(response.body ?? '', 'base64').toString()
    : response.body;
  return { status: response.statusCode ?? 0, body: text ?? '' };
}

let handlerInstance: ReturnType<typeof createHookHandler> | undefined;

export const handler = async (event: HookEvent): Promise<SmokeReport> => {
  const controlPlane = awsControlPlane();
  try {
    if (handlerInstance === undefined) {
      const config = parseConfig(process.env);
      const target = process.env['TARGET_VERSION_ARN'];
      if (!target) throw new Error('TARGET_VERSION_ARN is not set (infra/aws/modelfleet-plugin.js sets it)');
      const repository = new ModelRepository(openStore(config.repository, config.store));
      handlerInstance = createHookHandler({
        controlPlane,
        repository,
        stage: config.stage,
        targetVersionArn: target,
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
