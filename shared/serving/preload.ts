import { NotFoundError } from '../errors';
import { type DeploymentConfig, deployedVersions } from '../repository/deployment';
import type { ModelRepository } from '../repository/repository';
import { describeError, type Logger } from '../telemetry/log';
import type { DeploymentsCache } from '../traffic/deployments-cache';
import type { ModelCache } from './model-cache';
import { warmUp } from './sample-check';

export interface PreloadReport {
  /** model@version loaded and verified. */
  loaded: string[];
  /** model@version → where its cold start went, in ms (reads, checks, session, warm-up run). */
  phases: Record<string, { fetchMs: number; verifyMs: number; sessionMs: number; warmUpMs: number }>;
  /** model@version whose manifest sample ran once (those without a sample are only loaded). */
  warmedUp: string[];
  /** model@version (or model) that could not be, with why. */
  failed: { target: string; error: string }[];
  ms: number;
}

/**
 * The cold-start preload: every model deployed on this stage gets its versions downloaded,
 * sha256-verified, turned into sessions and run once on the manifest's sample, so the first real
 * request finds them warm. Failures are reported and logged, never thrown: a model that cannot
 * load now answers 503 later instead of keeping the whole instance from starting.
 */
export async function preloadStage(
  repository: ModelRepository,
  deployments: DeploymentsCache,
  cache: ModelCache,
  log: Logger,
): Promise<PreloadReport> {
  const started = performance.now();
  const report: PreloadReport = { loaded: [], phases: {}, warmedUp: [], failed: [], ms: 0 };
  let models: string[];
  try {
    models = await repository.listModels();
  } catch (err) {
    log.error('preload: the model repository could not be listed', describeError(err));
    report.failed.push({ target: '*', error: (err as Error).message });
    report.ms = performance.now() - started;
    return report;
  }
  await Promise.all(
    models.map(async (model) => {
      let config: DeploymentConfig;
      try {
        config = await deployments.current(model);
      } catch (err) {
        // Published but not deployed on this stage: nothing to preload.
        if (err instanceof NotFoundError) return;
        report.failed.push({ target: model, error: (err as Error).message });
        log.error('preload: deployment config unavailable', { model, ...describeError(err) });
        return;
      }
      await vetDeployment(cache, model, config, log).then(
        (result) => {
          report.loaded.push(...result.loaded);
          report.warmedUp.push(...result.warmedUp);
          Object.assign(report.phases, result.phases);
        },
        (err: unknown) => {
          report.failed.push({ target: model, error: (err as Error).message });
          // The operator's only sign before a request hits it: say which document or check failed.
          log.error('preload: a deployed version could not be loaded', { model, ...describeError(err) });
        },
      );
    }),
  );
  report.ms = performance.now() - started;
  log.info('preload finished', {
    loaded: report.loaded,
    failed: report.failed.length,
    ms: Math.round(report.ms),
    phases: roundPhases(report.phases),
  });
  return report;
}

/**
 * Loads (download, verify, session) and warms up every version a config serves; throws on the
 * first that cannot be. Used by the preload and before a changed config replaces a serving one.
 */
export async function vetDeployment(
  cache: ModelCache,
  model: string,
  config: DeploymentConfig,
  log: Logger,
): Promise<{ loaded: string[]; warmedUp: string[]; phases: PreloadReport['phases'] }> {
  // Shadow versions too: a shadow that cannot load would fail its sampled requests.
  const versions = [...new Set(deployedVersions(config))];
  const loaded: string[] = [];
  const warmedUp: string[] = [];
  const phases: PreloadReport['phases'] = {};
  for (const version of versions) {
    const { model: ready, hit } = await cache.get(model, version);
    const warmUpStarted = performance.now();
    const warm = await warmUp(ready);
    // A version already loaded (another config named it) cost this preload nothing to load.
    const load = hit ? undefined : ready.loadPhases;
    phases[`${model}@${version}`] = {
      fetchMs: load?.fetchMs ?? 0,
      verifyMs: load?.verifyMs ?? 0,
      sessionMs: load?.sessionMs ?? 0,
      warmUpMs: performance.now() - warmUpStarted,
    };
    if (!warm.ok) {
      // A sample that no longer reproduces is worth a loud log, not a refusal: tolerances drift
      // across onnxruntime builds and the artifact's sha256 already matched.
      log.warn('warm-up sample differs from the manifest', { model, version, problems: warm.problems });
    }
    loaded.push(`${model}@${version}`);
    if (warm.ran) warmedUp.push(`${model}@${version}`);
  }
  return { loaded, warmedUp, phases };
}

function roundPhases(phases: PreloadReport['phases']): PreloadReport['phases'] {
  const round = (ms: number) => Math.round(ms * 10) / 10;
  return Object.fromEntries(
    Object.entries(phases).map(([target, p]) => [
      target,
      {
        fetchMs: round(p.fetchMs),
        verifyMs: round(p.verifyMs),
        sessionMs: round(p.sessionMs),
        warmUpMs: round(p.warmUpMs),
      },
    ]),
  );
}

/**
 * The app with its preload started now and awaited by every request until it has finished: for
 * entry points that build the app at cold start (Lambda, Azure Functions, Cloud Functions).
 */
export function withPreload<
  T extends { handle(request: never): Promise<unknown>; preload(): Promise<PreloadReport> },
>(app: T, onSettled?: () => void): T {
  const ready = app.preload();
  // Once the preload has settled, requests go straight to the app (no extra await per request).
  let settled = false;
  const settle = () => {
    settled = true;
    onSettled?.();
  };
  void ready.then(settle, settle);
  return {
    ...app,
    handle: (request: never) => (settled ? app.handle(request) : ready.then(() => app.handle(request))),
  };
}
