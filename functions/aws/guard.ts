/**
 * AWS rollout guard: an EventBridge schedule (every minute) and the canary error-rate alarm
 * (a Metrics Insights alarm whose action invokes this function, infra/aws/modelfleet-plugin.js)
 * both run it; it judges every rollout of the stage from CloudWatch GetMetricData and writes the
 * deployment config by CAS. Writes go through @aws-sdk/client-s3, which the Lambda Node.js runtime
 * provides (it is left out of the bundle, serverless.yml).
 */
import { parseGuardSettings } from '../../shared/config/guard';
import { createGuardRun, type GuardSummary } from '../../shared/control/guard-run';

/** A schedule event, or what a CloudWatch alarm's Lambda action sends. */
export interface GuardEvent {
  source?: string;
  alarmData?: { alarmName?: string; state?: { value?: string } };
}

export function createGuardHandler(run: (trigger: string) => Promise<GuardSummary>) {
  return async (event: GuardEvent = {}): Promise<GuardSummary> => {
    const alarm = event.alarmData?.alarmName;
    if (alarm === undefined) return run('schedule');
    // An alarm going back to OK needs nothing; the schedule keeps judging.
    if (event.alarmData?.state?.value !== 'ALARM') return { trigger: `alarm ${alarm} OK`, outcomes: [] };
    return run(`alarm ${alarm}`);
  };
}

let handle: ReturnType<typeof createGuardHandler> | undefined;

export const handler = async (event: GuardEvent): Promise<GuardSummary> => {
  handle ??= createGuardHandler(createGuardRun(parseGuardSettings(process.env, 'cloudwatch')));
  return handle(event);
};
