/**
 * The canary story behind `npm run demo:canary` (and its short form in the tests): a local server
 * on 127.0.0.1 serves iris v1; a deliberately worse v2 (it misclassifies a share of the flowers)
 * is rolled out and the guard rolls it back on the feedback accuracy; then a good v3 advances
 * step by step to 100%. Traffic is real HTTP; each answer is checked against the true class and
 * recorded as feedback, as a client's labels would be.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createLocalServer } from '../../functions/local/handler';
import { createApp } from '../../shared/app';
import { parseConfig } from '../../shared/config';
import { LocalMetricSource } from '../../shared/control/metric-sources/local';
import { packageModel } from '../../shared/control/packaging';
import { describeOutcome, guardRollout } from '../../shared/control/rollout-guard';
import { promote } from '../../shared/repository/deployment';
import { ModelRepository } from '../../shared/repository/repository';
import { startRollout } from '../../shared/repository/rollout';
import type { Rollout } from '../../shared/repository/rollout-plan';
import { FsModelStore } from '../../shared/store';
import { silentLogger } from '../../shared/telemetry/log';
import { IRIS_BIAS, IRIS_FEATURES, irisModel, irisReference } from './sample-models';

export interface DemoOptions {
  bakeSeconds: number;
  steps: number[];
  /** Samples per check; small so the local traffic reaches it within a second or two. */
  minRequests: number;
  /** How often the guard runs. */
  guardEveryMs: number;
  /**
   * Both versions share one busy process here, so warm p99s differ by timer jitter and GC pauses
   * (more so over few samples): the demo tolerates a wider ratio than production's 1.5.
   */
  maxP99Ratio: number;
  /** Requests in flight at once. */
  concurrency: number;
  timeoutMs: number;
  print: (line: string) => void;
}

export interface DemoResult {
  bad: Rollout | undefined;
  good: Rollout | undefined;
  /** Canary weights the good rollout went through, in order. */
  goodWeights: number[];
  requests: number;
  history: string[];
}

const MODEL = 'iris';
const STAGE = 'local';
// Raising the versicolor bias moves a third of the flowers into that class: a worse model.
const WORSE_BIAS = [9.85, 8.5, -12.09];
const ALMOST_SAME_BIAS = [9.86, 2.24, -12.08];

export async function runCanaryDemo(options: DemoOptions): Promise<DemoResult> {
  const started = Date.now();
  const say = (line: string) =>
    options.print(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'modelfleet-demo-'));
  const repository = new ModelRepository(new FsModelStore(dir));
  const source = new LocalMetricSource();
  const app = createApp({
    config: {
      ...parseConfig({ MODELFLEET_STAGE: STAGE, DEPLOYMENT_TTL_SECONDS: '0' }),
      repository: repository.store.url,
    },
    store: repository.store,
    metrics: (event) => source.aggregator.record(event),
    log: silentLogger,
  });
  const server = createLocalServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const traffic = startTraffic(server, source, options.concurrency);
  try {
    for (const [version, bias, what] of [
      [1, IRIS_BIAS, 'good'],
      [2, WORSE_BIAS, 'worse: misclassifies about a third of the flowers'],
      [3, ALMOST_SAME_BIAS, 'good: a retrain that agrees with v1'],
    ] as const) {
      const pkg = await packageModel({ name: MODEL, artifact: irisModel(bias), features: IRIS_FEATURES });
      await repository.publish(pkg, { version });
      say(`published ${MODEL} v${version} (${what})`);
    }
    await repository.updateDeployment(MODEL, STAGE, (c) =>
      promote(c, { model: MODEL, stage: STAGE, version: 1 }, new Date(), 'demo'),
    );
    say(
      `serving v1 at http://127.0.0.1:${(server.address() as AddressInfo).port}; traffic running with feedback`,
    );
    const bad = await rollOut(repository, source, 2, options, say);
    const good = await rollOut(repository, source, 3, options, say);
    const read = await repository.readDeployment(MODEL, STAGE);
    const history =
      read.status === 'ok' ? read.config.history.map((e) => `${e.action} by ${e.actor ?? '?'}`) : [];
    return {
      bad: bad.rollout,
      good: good.rollout,
      goodWeights: good.weights,
      requests: traffic.count(),
      history,
    };
  } finally {
    await traffic.stop();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rollOut(
  repository: ModelRepository,
  source: LocalMetricSource,
  version: number,
  options: DemoOptions,
  say: (line: string) => void,
): Promise<{ rollout: Rollout | undefined; weights: number[] }> {
  const thresholds = {
    minRequests: options.minRequests,
    minWarmRequests: options.minRequests,
    minFeedback: options.minRequests,
    maxP99Ratio: options.maxP99Ratio,
  };
  const config = await repository.updateDeployment(MODEL, STAGE, (c) =>
    startRollout(
      c,
      { version, steps: options.steps, bakeSeconds: options.bakeSeconds, thresholds },
      new Date(),
      'demo',
    ),
  );
  say(`rollout of v${version} started: steps ${options.steps.join(' → ')}%, bake ${options.bakeSeconds}s`);
  const weights = [config.rollout?.steps[0] ?? 0];
  const deadline = Date.now() + options.timeoutMs;
  let lastHold = 0;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, options.guardEveryMs));
    const outcome = await guardRollout({ repository, source, actor: 'guard:demo' }, MODEL, STAGE);
    if (outcome.action === 'hold' && Date.now() - lastHold < 2000) continue;
    if (outcome.action === 'hold') lastHold = Date.now();
    say(`guard: ${describeOutcome(outcome)}`);
    if (outcome.action === 'advance' && outcome.nextWeight !== undefined) weights.push(outcome.nextWeight);
    if (outcome.action === 'none') break;
    const read = await repository.readDeployment(MODEL, STAGE);
    const rollout = read.status === 'ok' ? read.config.rollout : undefined;
    if (rollout !== undefined && rollout.state !== 'progressing') return { rollout, weights };
  }
  const read = await repository.readDeployment(MODEL, STAGE);
  return { rollout: read.status === 'ok' ? read.config.rollout : undefined, weights };
}

/** Keeps `concurrency` requests in flight; each answer is scored against the true class. */
function startTraffic(server: Server, source: LocalMetricSource, concurrency: number) {
  const { port } = server.address() as AddressInfo;
  let running = true;
  let count = 0;
  const worker = async () => {
    while (running) {
      const row = [
        4.3 + Math.random() * 3.6,
        2 + Math.random() * 2.4,
        1 + Math.random() * 5.9,
        0.1 + Math.random() * 2.4,
      ];
      try {
        const response = await fetch(`http://127.0.0.1:${port}/v2/models/${MODEL}/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row }] }),
        });
        const body = (await response.json()) as {
          model_version?: string;
          outputs?: { name: string; data: number[] }[];
        };
        count++;
        const variant = response.headers.get('x-model-variant');
        const label = body.outputs?.find((o) => o.name === 'label')?.data[0];
        if (response.ok && variant !== null && label !== undefined) {
          source.aggregator.recordFeedback({
            timestamp: new Date().toISOString(),
            model: MODEL,
            stage: STAGE,
            variant,
            version: Number(body.model_version),
            correct: label === irisReference([row]).label[0],
          });
        }
      } catch {
        // The server is closing at the end of the demo.
      }
    }
  };
  const workers = Array.from({ length: concurrency }, worker);
  return {
    count: () => count,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}
