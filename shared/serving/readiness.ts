import { jsonResponse, type ServeResponse } from '../http/request';
import { deployedVersions } from '../repository/deployment';
import type { DeploymentsCache } from '../traffic/deployments-cache';
import type { ModelCache } from './model-cache';

/**
 * `GET /v2/health/ready` without a store call: ready when the preload (if one was started) has
 * finished and every version the known deployment configs serve is loaded, i.e. the instance can
 * answer its stage's traffic now (after a failed preload, at least one). The store's last known
 * state is reported, not acted on: an outage that warm instances ride out must not make a load
 * balancer or Kubernetes drop all of them. Counts only: probes are public; the body names no model.
 */
export function readiness(
  deployments: DeploymentsCache,
  cache: ModelCache,
  preload: { running: boolean; failed: boolean },
): ServeResponse {
  let expected = 0;
  let loaded = 0;
  for (const [model, config] of deployments.known()) {
    for (const version of new Set(deployedVersions(config))) {
      expected++;
      if (cache.peek(model, version, false) !== undefined) loaded++;
    }
  }
  // A preload that failed and left nothing known (the store was down at cold start) is not ready.
  const ready = !preload.running && loaded === expected && (expected > 0 || !preload.failed);
  const store = deployments.store;
  return jsonResponse(ready ? 200 : 503, {
    ready,
    versions: { loaded, expected },
    store: store.state,
    ...(store.answeredSecondsAgo === undefined ? {} : { storeAnsweredSecondsAgo: store.answeredSecondsAgo }),
  });
}
