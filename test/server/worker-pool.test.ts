import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { packageModel } from '../../shared/control/packaging';
import { ServiceUnavailableError } from '../../shared/errors';
import type { ModelRepository } from '../../shared/repository/repository';
import { inlineEngine, observeRun, type RunResult, runsInline } from '../../shared/serving/engine';
import { describeModel } from '../../shared/serving/model-cache';
import { createSession } from '../../shared/serving/native-session';
import { mayReplaceWorker, RESTART_WINDOW_MS, WorkerPoolEngine } from '../../shared/serving/worker-pool';
import { silentLogger } from '../../shared/telemetry/log';
import type { InferCall } from '../../shared/tensor/types';
import {
  buildTestApp,
  postJson,
  removeTempDirs,
  sampleRepository,
  sampleRequest,
  tempDir,
} from '../support/fixtures';
import { serverBundle } from '../support/server-bundle';
import { slowModel } from '../support/slow-model';

jest.setTimeout(60_000);

let repository: ModelRepository;
const pools: WorkerPoolEngine[] = [];

function pool(size: number, inlineBelowMs: number): WorkerPoolEngine {
  const engine = new WorkerPoolEngine({
    size,
    inlineBelowMs,
    log: silentLogger,
    workerFile: serverBundle().worker,
  });
  pools.push(engine);
  return engine;
}

beforeAll(async () => {
  repository = await sampleRepository();
});

afterAll(async () => {
  for (const engine of pools.splice(0)) await engine.close();
  removeTempDirs();
});

/** A response body as bytes (latin1: binary sections too), with each request's generated id masked. */
function withoutIds(body: string | Uint8Array | undefined): string {
  return Buffer.from(body ?? '')
    .toString('latin1')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<id>');
}

describe('the worker pool engine', () => {
  it('answers every sample request exactly as inline inference does, outputs binary or JSON', async () => {
    const engine = pool(2, 0);
    const pooled = buildTestApp(repository, { engine }).app;
    const inline = buildTestApp(repository).app;
    const binaryIris = sampleRequest('iris');
    binaryIris.parameters = { binary_data_output: true };
    const requests = [
      postJson('/v2/models/iris/infer', sampleRequest('iris')),
      postJson('/v2/models/house-price/infer', sampleRequest('house-price')),
      postJson('/v2/models/iris/infer', binaryIris),
      {
        ...postJson('/invocations', { dataframe_records: [{ area: 84.5, rooms: 3, district: 2, age: 12 }] }),
        query: { model: 'house-price' },
      },
    ];
    for (const request of requests) {
      const [fromPool, fromInline] = await Promise.all([pooled.handle(request), inline.handle(request)]);
      expect({ status: fromPool.status, body: withoutIds(fromPool.body) }).toEqual({
        status: fromInline.status,
        body: withoutIds(fromInline.body),
      });
      expect(fromPool.headers['content-type']).toBe(fromInline.headers['content-type']);
    }
    // Every run went through a worker (a threshold of 0 never keeps one inline).
    expect(engine.workerRuns).toBe(requests.length);
  });

  it('keeps a model inline once its runs show it is faster than the hop to a worker', async () => {
    // 100 ms: iris runs in microseconds, but a loaded machine can deschedule a worker mid-run for tens.
    const engine = pool(1, 100);
    const { app } = buildTestApp(repository, { engine });
    for (let i = 0; i < 6; i++) {
      expect((await app.handle(postJson('/v2/models/iris/infer', sampleRequest('iris')))).status).toBe(200);
    }
    // Three runs measure it in the worker; iris takes microseconds, so the rest run inline.
    expect(engine.workerRuns).toBe(3);
  });

  it('runs a CPU-bound model on several workers at once, with the same outputs as inline', async () => {
    // Runs of tens of ms (≈ 25 ms at 400×400; 200×200 took 3 ms, about a scheduler slice, and
    // once in a full suite no two runs overlapped): long enough that two workers, each handed a
    // job at once, overlap even when a loaded machine schedules them a few ms slice at a time.
    const artifact = slowModel(400, 12);
    const { manifest } = await packageModel({ name: 'slow', artifact });
    const model = describeModel(manifest, await createSession(artifact));
    const engine = pool(2, 0);
    await engine.prepare(model, artifact);
    const call = (): InferCall => ({
      inputs: new Map([['x', { name: 'x', shape: [1, 1], data: Float32Array.of(0.01) }]]),
      outputs: ['y'],
    });
    const runs: RunResult[] = await Promise.all(Array.from({ length: 6 }, () => engine.run(model, call())));
    const expected = await inlineEngine.run(model, call());
    for (const run of runs) expect(run.outputs).toEqual(expected.outputs);
    const spans = runs.map((run) => run.span);
    expect(new Set(spans.map((span) => span?.worker))).toEqual(new Set([0, 1]));
    // Some run on worker 1 was under way while one on worker 0 was: the two ran concurrently.
    const overlapping = spans.some((a) =>
      spans.some(
        (b) =>
          a !== undefined &&
          b !== undefined &&
          a.worker !== b.worker &&
          a.startedAt < b.endedAt &&
          b.startedAt < a.endedAt,
      ),
    );
    expect(overlapping).toBe(true);
    await model.session.release();
  });

  it('fails a run with a 503 when no worker holds the model, and inline with no workers at all', async () => {
    const artifact = slowModel(8, 1);
    const { manifest } = await packageModel({ name: 'small', artifact });
    const model = describeModel(manifest, await createSession(artifact));
    const call: InferCall = {
      inputs: new Map([['x', { name: 'x', shape: [1, 1], data: Float32Array.of(0.5) }]]),
      outputs: ['y'],
    };
    // Size 0: the engine is inline.
    const none = pool(0, 0);
    await none.prepare(model, artifact);
    expect((await none.run(model, call)).span).toBeUndefined();
    // A pool that was never asked to prepare the model runs it inline rather than failing.
    const unprepared = pool(1, 0);
    expect((await unprepared.run(model, call)).span).toBeUndefined();
    await unprepared.prepare(model, artifact);
    expect((await unprepared.run(model, call)).span?.worker).toBe(0);
    await unprepared.close();
    await expect(unprepared.run(model, call)).resolves.toMatchObject({ outputs: expect.any(Array) });
    await model.session.release();
  });
});

describe('a worker that dies', () => {
  /** The pool's worker threads (private: a test reaches in to kill one, as a crash would). */
  const workers = (engine: WorkerPoolEngine) =>
    (engine as unknown as { slots: { worker: Worker; index: number }[] }).slots;

  it('is replaced by a worker that loads the models first, then serves', async () => {
    const artifact = slowModel(8, 1);
    const { manifest } = await packageModel({ name: 'small', artifact });
    const model = describeModel(manifest, await createSession(artifact));
    const engine = pool(1, 0);
    await engine.prepare(model, artifact);
    const call = (): InferCall => ({
      inputs: new Map([['x', { name: 'x', shape: [1, 1], data: Float32Array.of(0.01) }]]),
      outputs: ['y'],
    });
    expect((await engine.run(model, call())).span?.worker).toBe(0);
    // Killed between runs: a thread stopped inside onnxruntime's native run can abort the process.
    const [first] = workers(engine);
    const exited = new Promise((resolve) => first?.worker.once('exit', resolve));
    await first?.worker.terminate();
    await exited;
    expect(engine.size).toBe(1);
    expect(workers(engine)[0]?.worker).not.toBe(first?.worker);
    // On the new worker (span index 1, not inline), with the same outputs as inline.
    const expected = await inlineEngine.run(model, call());
    const runs = await Promise.all([engine.run(model, call()), engine.run(model, call())]);
    for (const run of runs) {
      expect(run.span?.worker).toBe(1);
      expect(run.outputs).toEqual(expected.outputs);
    }
    await model.session.release();
  });

  it('fails the run it was on with a 503, and the next run goes to its replacement', async () => {
    // The real worker, behind a listener that ends the thread when a run's input is negative: a
    // crash while a job is in flight (a thread stopped inside onnxruntime's native run would take
    // the whole process with it, so the crash comes before the run starts).
    const file = path.join(tempDir('modelfleet-crashing-worker-'), 'worker.js');
    writeFileSync(
      file,
      `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => { if (m.kind === 'run' && m.feeds.x.data[0] < 0) process.exit(3); });
require(${JSON.stringify(serverBundle().worker)});
`,
    );
    const engine = new WorkerPoolEngine({ size: 1, inlineBelowMs: 0, log: silentLogger, workerFile: file });
    pools.push(engine);
    const artifact = slowModel(8, 1);
    const { manifest } = await packageModel({ name: 'small', artifact });
    const model = describeModel(manifest, await createSession(artifact));
    await engine.prepare(model, artifact);
    const call = (x: number): InferCall => ({
      inputs: new Map([['x', { name: 'x', shape: [1, 1], data: Float32Array.of(x) }]]),
      outputs: ['y'],
    });
    expect((await engine.run(model, call(0.01))).span?.worker).toBe(0);
    const error = await engine.run(model, call(-1)).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error).toMatchObject({
      status: 503,
      message: 'the inference worker running this request stopped',
    });
    const expected = await inlineEngine.run(model, call(0.01));
    const next = await engine.run(model, call(0.01));
    expect(next.span?.worker).toBe(1);
    expect(next.outputs).toEqual(expected.outputs);
    await model.session.release();
  });

  it('is replaced a few times a minute at most, so a crash at every start is no restart loop', async () => {
    const now = 1_000_000;
    const engine = new WorkerPoolEngine({
      size: 1,
      inlineBelowMs: 0,
      log: silentLogger,
      workerFile: serverBundle().worker,
      restartsPerWindow: 2,
      now: () => now,
    });
    pools.push(engine);
    for (const expected of [1, 1, 0]) {
      const exited = new Promise((resolve) => workers(engine)[0]?.worker.once('exit', resolve));
      await workers(engine)[0]?.worker.terminate();
      await exited;
      expect(engine.size).toBe(expected);
    }
    expect(mayReplaceWorker([now - 59_000, now - 1000], now, 2)).toBe(false);
    expect(mayReplaceWorker([now - RESTART_WINDOW_MS, now - 1000], now, 2)).toBe(true);
  });
});

describe('the inline decision', () => {
  it('keeps unknown models off the main thread and scales the estimate by batch rows', () => {
    expect(runsInline(undefined, 1, 1)).toBe(false);
    let estimate = observeRun(undefined, 0.02, 1);
    expect(runsInline(estimate, 1, 1)).toBe(false);
    estimate = observeRun(observeRun(estimate, 0.02, 1), 0.02, 1);
    expect(runsInline(estimate, 1, 1)).toBe(true);
    // 0.02 ms a row: 100 rows are 2 ms, over a 1 ms threshold.
    expect(runsInline(estimate, 100, 1)).toBe(false);
    // A slow run pulls the estimate up.
    for (let i = 0; i < 10; i++) estimate = observeRun(estimate, 50, 1);
    expect(runsInline(estimate, 1, 1)).toBe(false);
  });
});
