import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publishMissingSamples } from '../../scripts/lib/samples';
import { type App, createApp } from '../../shared/app';
import { type Config, parseConfig } from '../../shared/config';
import { ModelRepository } from '../../shared/repository/repository';
import { FsModelStore } from '../../shared/store';
import { silentLogger } from '../../shared/telemetry/log';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';

const made: string[] = [];

export function tempDir(prefix = 'modelfleet-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A fresh folder repository holding the bundled samples, deployed on `local` and `dev`. */
export async function sampleRepository(): Promise<ModelRepository> {
  const repository = new ModelRepository(new FsModelStore(tempDir('modelfleet-repo-')));
  await publishMissingSamples(repository, ['local', 'dev']);
  return repository;
}

export interface TestApp {
  app: App;
  repository: ModelRepository;
  events: RequestMetricEvent[];
}

export async function sampleApp(
  overrides: Partial<Config> = {},
  repository?: ModelRepository,
): Promise<TestApp> {
  const repo = repository ?? (await sampleRepository());
  const events: RequestMetricEvent[] = [];
  const config = { ...parseConfig({}), ...overrides, repository: repo.store.url };
  const app = createApp({
    config,
    store: repo.store,
    metrics: (event) => events.push(event),
    log: silentLogger,
  });
  return { app, repository: repo, events };
}

export function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  return {
    method: 'POST',
    path,
    query: {},
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

export function get(path: string, headers: Record<string, string> = {}) {
  return { method: 'GET', path, query: {}, headers };
}

export function json(response: { body: string | Uint8Array }): Record<string, unknown> {
  return JSON.parse(
    typeof response.body === 'string' ? response.body : Buffer.from(response.body).toString('utf8'),
  );
}
