import type { ServeRequest } from '../http/request';
import type { ModelRepository } from '../repository/repository';
import { compareOutputs } from '../tensor/compare';

/** Sends one request to the code under test (e.g. a new Lambda version) and returns its answer. */
export type SendRequest = (request: ServeRequest) => Promise<{ status: number; body: string }>;

export interface SmokeCheck {
  model: string;
  version: number;
  ok: boolean;
  /** Why it failed, or why it was not run (no sample in the manifest). */
  detail: string;
}

export interface SmokeReport {
  ok: boolean;
  checks: SmokeCheck[];
  /** Failures that are not tied to one model version (health, unreadable deployments). */
  problems: string[];
}

/**
 * Runs every model version deployed on `stage` (any weight: an explicit version route can reach
 * it) through the code under test with its manifest sample, and compares the outputs within the
 * sample's tolerance. Fails closed: anything that cannot be checked is a problem, except a
 * manifest without a sample, which is reported and skipped.
 */
export async function runSmokeTests(
  repository: ModelRepository,
  stage: string,
  send: SendRequest,
): Promise<SmokeReport> {
  const problems: string[] = [];
  const checks: SmokeCheck[] = [];
  const health = await send(request('GET', '/v2/health/live')).catch((err: unknown) => failure(err));
  if (health.status !== 200) problems.push(`GET /v2/health/live answered ${health.status}: ${health.body}`);

  let models: string[] = [];
  try {
    models = await repository.listModels();
  } catch (err) {
    problems.push(`cannot list models: ${(err as Error).message}`);
  }
  for (const model of models) {
    let versions: number[];
    try {
      const read = await repository.readDeployment(model, stage);
      if (read.status !== 'ok') continue;
      versions = [...new Set(read.config.variants.map((variant) => variant.version))];
    } catch (err) {
      problems.push(`${model}: deployment for stage ${stage} is unreadable: ${(err as Error).message}`);
      continue;
    }
    for (const version of versions) checks.push(await checkVersion(repository, model, version, send));
  }
  return { ok: problems.length === 0 && checks.every((check) => check.ok), checks, problems };
}

async function checkVersion(
  repository: ModelRepository,
  model: string,
  version: number,
  send: SendRequest,
): Promise<SmokeCheck> {
  const result = (ok: boolean, detail: string) => ({ model, version, ok, detail });
  let sample: Awaited<ReturnType<ModelRepository['readManifest']>>['sample'];
  try {
    sample = (await repository.readManifest(model, version)).sample;
  } catch (err) {
    return result(false, `manifest unreadable: ${(err as Error).message}`);
  }
  if (sample === undefined) return result(true, 'skipped: the manifest has no sample');
  const path = `/v2/models/${encodeURIComponent(model)}/versions/${version}/infer`;
  const body = { inputs: sample.inputs, outputs: sample.outputs.map((output) => ({ name: output.name })) };
  const response = await send(request('POST', path, JSON.stringify(body))).catch((err: unknown) =>
    failure(err),
  );
  if (response.status !== 200)
    return result(false, `POST ${path} answered ${response.status}: ${response.body}`);
  let outputs: unknown;
  try {
    outputs = (JSON.parse(response.body) as { outputs?: unknown }).outputs;
  } catch {
    return result(false, `POST ${path} answered with a body that is not JSON`);
  }
  if (!Array.isArray(outputs)) return result(false, `POST ${path} answered without an "outputs" array`);
  let differences: string[];
  try {
    differences = compareOutputs(sample.outputs, outputs, sample.tolerance);
  } catch {
    return result(false, `POST ${path} answered with malformed outputs`);
  }
  return differences.length === 0
    ? result(true, `matches the sample within ±${sample.tolerance}`)
    : result(false, differences.join('; '));
}

function request(method: string, path: string, body?: string): ServeRequest {
  return {
    method,
    path,
    query: {},
    headers: { 'content-type': 'application/json', 'user-agent': 'modelfleet-smoke-test' },
    ...(body === undefined ? {} : { body }),
  };
}

function failure(err: unknown) {
  return { status: 0, body: `request failed: ${(err as Error).message}` };
}
