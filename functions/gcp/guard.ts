/**
 * GCP rollout guard, target `modelfleetGuard` (a CloudEvent function on a Pub/Sub topic): Cloud
 * Scheduler publishes to the topic every minute, and the canary alert policy's Pub/Sub
 * notification channel publishes to it when it fires, so both run the same judgement (Cloud
 * Monitoring metrics, CAS write of the deployment config). Settings are parsed on first use, so
 * the inference function that shares this source never pays for them.
 */
import { type CloudEvent, cloudEvent } from '@google-cloud/functions-framework';
import { parseGuardSettings } from '../../shared/config/guard';
import { createGuardRun, type GuardSummary } from '../../shared/control/guard-run';

/** The Pub/Sub CloudEvent's data; an alert policy notification carries an `incident`. */
interface PubSubData {
  message?: { data?: string };
}

let run: ((trigger: string) => Promise<GuardSummary>) | undefined;

export async function onGuardEvent(data: PubSubData | undefined): Promise<GuardSummary> {
  run ??= createGuardRun(parseGuardSettings(process.env, 'cloud-monitoring'));
  let trigger = 'schedule';
  try {
    const payload = JSON.parse(Buffer.from(data?.message?.data ?? '', 'base64').toString('utf8')) as {
      incident?: { policy_name?: string; state?: string };
    };
    if (payload.incident !== undefined) {
      if (payload.incident.state !== 'open')
        return { trigger: `alert ${payload.incident.policy_name} closed`, outcomes: [] };
      trigger = `alert ${payload.incident.policy_name ?? 'policy'}`;
    }
  } catch {
    // A scheduler message need not be JSON: it only says "run now".
  }
  return run(trigger);
}

cloudEvent<PubSubData>('modelfleetGuard', async (event: CloudEvent<PubSubData>) => {
  await onGuardEvent(event.data);
});
