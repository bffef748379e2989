import { ModelRepository } from '../repository/repository';
import { openStore, type StoreSettings } from '../store';
import { type MetricSourceSettings, openMetricSource } from './metric-sources/open';
import { type GuardOutcome, guardStage } from './rollout-guard';

/** What every platform's guard entry shares: one run over the stage's rollouts, logged as one line. */
export interface GuardRunSettings {
  stage: string;
  repository: string;
  store: StoreSettings;
  metrics: MetricSourceSettings;
  actor: string;
}

export interface GuardSummary {
  trigger: string;
  outcomes: Omit<GuardOutcome, 'window' | 'verdict'>[];
}

export function createGuardRun(
  settings: GuardRunSettings,
  log: (line: Record<string, unknown>) => void = (line) => console.log(JSON.stringify(line)),
): (trigger: string) => Promise<GuardSummary> {
  const repository = new ModelRepository(openStore(settings.repository, settings.store));
  return async (trigger) => {
    const outcomes = await guardStage(
      // A fresh source per run: the local one re-reads its file, the cloud ones are stateless.
      { repository, source: openMetricSource(settings.metrics), actor: `${settings.actor} (${trigger})` },
      settings.stage,
    );
    const summary = { trigger, outcomes: outcomes.map(({ window: _w, verdict: _v, ...rest }) => rest) };
    log({ msg: 'rollout guard', ...summary });
    return summary;
  };
}
