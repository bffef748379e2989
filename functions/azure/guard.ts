/**
 * Azure rollout guard: the timer function `modelfleetGuard` (every minute) judges the stage's
 * rollouts from Log Analytics, and `modelfleetGuardAlert` is the webhook of the action group of the
 * canary's scheduled query alert, so an alert runs the same judgement at once. Settings are parsed
 * on first use, so the inference function that shares this app never pays for them.
 */
import { app as functions, type HttpRequest } from '@azure/functions';
import { parseGuardSettings } from '../../shared/config/guard';
import { createGuardRun, type GuardSummary } from '../../shared/control/guard-run';

let run: ((trigger: string) => Promise<GuardSummary>) | undefined;
const guard = (trigger: string) => {
  run ??= createGuardRun(parseGuardSettings(process.env, 'log-analytics'));
  return run(trigger);
};

/** The common alert schema's essentials: which rule, and whether it fired or resolved. */
export async function onAlert(request: HttpRequest): Promise<{ status: number; jsonBody: unknown }> {
  const body = (await request.json().catch(() => ({}))) as {
    data?: { essentials?: { alertRule?: string; monitorCondition?: string } };
  };
  const essentials = body.data?.essentials;
  if (essentials?.monitorCondition !== 'Fired')
    return { status: 202, jsonBody: { trigger: 'alert resolved', outcomes: [] } };
  return { status: 200, jsonBody: await guard(`alert ${essentials.alertRule ?? 'rule'}`) };
}

export const onTimer = () => guard('schedule');

functions.timer('modelfleetGuard', { schedule: '0 * * * * *', handler: async () => void (await onTimer()) });
functions.http('modelfleetGuardAlert', {
  route: '_guard/alert',
  methods: ['POST'],
  // The action group calls with the function key in the URL; nobody else may trigger a judgement.
  authLevel: 'function',
  handler: onAlert,
});
