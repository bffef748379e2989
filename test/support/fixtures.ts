import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { publishMissingSamples } from '../../scripts/lib/samples';
import { type App, createApp } from '../../shared/app';
import { type Config, parseConfig } from '../../shared/config';
import { ModelRepository } from '../../shared/repository/repository';
import type { InferenceEngine } from '../../shared/serving/engine';
import { FsModelStore, type ModelStore } from '../../shared/store';
import { type Logger, silentLogger } from '../../shared/telemetry/log';
import type { MetricSink, RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { seededRandom } from './random';

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

export interface TestAppOptions {
  /** Settings as a deployment gives them (MODELFLEET_STAGE, API_KEYS, ...), parsed by parseConfig. */
  env?: Record<string, string>;
  /** Parsed settings to override afterwards. */
  config?: Partial<Config>;
  /** Seeds the variant picks; Math.random when absent. */
  seed?: number;
  now?: () => number;
  /** The platform's sink instead of recording into `events`. */
  metrics?: MetricSink;
  log?: Logger;
  /** Where session.run happens (a worker pool in the server's tests); inline when absent. */
  engine?: InferenceEngine;
}

/**
 * The one app builder of the tests: the real core over `repository`, its metric events recorded,
 * logs silenced. The presets below (and trafficApp, securedApp) only choose options.
 */
export function buildTestApp(source: ModelRepository | ModelStore, options: TestAppOptions = {}): TestApp {
  const repository = source instanceof ModelRepository ? source : new ModelRepository(source);
  const events: RequestMetricEvent[] = [];
  const parsed = parseConfig({ ...options.env, MODEL_REPOSITORY: repository.store.url });
  const config = { ...parsed, ...options.config, repository: repository.store.url };
  const app = createApp({
    config,
    store: repository.store,
    metrics: options.metrics ?? ((event) => events.push(event)),
    log: options.log ?? silentLogger,
    ...(options.seed === undefined ? {} : { random: seededRandom(options.seed) }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.engine === undefined ? {} : { engine: options.engine }),
  });
  return { app, repository, events };
}

/** An app on the `local` stage over a fresh sample repository (or `repository`). */
export async function sampleApp(
  overrides: Partial<Config> = {},
  repository?: ModelRepository,
): Promise<TestApp> {
  return buildTestApp(repository ?? (await sampleRepository()), { config: overrides });
}

const sampleRequests = new Map<string, string>();

/** The request body a bundled sample ships (samples/<name>/request.json), as text. */
export function sampleRequestText(name: 'iris' | 'house-price'): string {
  let text = sampleRequests.get(name);
  if (text === undefined) {
    text = readFileSync(path.join(SAMPLES_DIR, name, 'request.json'), 'utf8');
    sampleRequests.set(name, text);
  }
  return text;
}

/**
 * The same, parsed: a fresh object per call, so a test may change it. Untyped on purpose, as
 * JSON.parse is: tests reshape it freely into valid and invalid requests.
 */
// biome-ignore lint/suspicious/noExplicitAny: a JSON fixture that tests reshape at will.
export function sampleRequest(name: 'iris' | 'house-price'): any {
  return JSON.parse(sampleRequestText(name));
}

export const SAMPLES_DIR = path.join(__dirname, '..', '..', 'samples');

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
