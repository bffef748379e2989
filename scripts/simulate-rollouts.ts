/**
 * Prints the rollout simulation's figures (docs/operations.md quotes them):
 *   npm run simulate:rollouts -- [--rollouts 200] [--requests 10000] [--seed 15] [--json]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ModelRepository } from '../shared/repository/repository';
import { FsModelStore } from '../shared/store';
import {
  formatResults,
  publishSimulationModels,
  SIMULATION_SETTINGS,
  simulateScenario,
  standardScenarios,
} from './lib/rollout-simulation';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rollouts: { type: 'string' },
      requests: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-simulation-'));
  try {
    const repository = new ModelRepository(new FsModelStore(dir));
    await publishSimulationModels(repository);
    const requests = Number(values.requests ?? 10_000);
    const settings = {
      ...SIMULATION_SETTINGS,
      rollouts: Number(values.rollouts ?? SIMULATION_SETTINGS.rollouts),
      seed: Number(values.seed ?? SIMULATION_SETTINGS.seed),
    };
    const results = [];
    for (const scenario of standardScenarios(requests)) {
      results.push(await simulateScenario(repository, scenario, settings));
    }
    if (values.json === true) {
      process.stdout.write(`${JSON.stringify({ requests, settings, results })}\n`);
      return;
    }
    process.stdout.write(`${formatResults(results, requests)}\n`);
    for (const r of results)
      if (!r.bad && r.rolledBack > 0) process.stdout.write(`${r.scenario}: ${r.firstReasons.join(' | ')}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`simulate-rollouts: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
