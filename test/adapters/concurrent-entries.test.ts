/**
 * Cloud Run functions and Azure Functions hand one instance several requests at once, so their
 * entries share the runs of one event-loop turn (serving/turn-batcher.ts): every answer must be
 * the one the request gets alone, and concurrent requests must actually share runs.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpFunctionOptions } from '@azure/functions';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import type { ModelRepository } from '../../shared/repository/repository';
import { rowsOf } from '../../shared/serving/engine';
import * as inference from '../../shared/serving/inference';
import type { InferCall } from '../../shared/tensor/types';
import {
  buildTestApp,
  json,
  postJson,
  removeTempDirs,
  sampleRepository,
  sampleRequest,
} from '../support/fixtures';
import { seededRandom } from '../support/random';

let repository: ModelRepository;
beforeAll(async () => {
  repository = await sampleRepository();
});
afterAll(removeTempDirs);

/** One-row iris requests with seeded measurements. */
function irisBodies(count: number, seed: number) {
  const random = seededRandom(seed);
  return Array.from({ length: count }, () => {
    const request = sampleRequest('iris');
    request.inputs[0].shape = [1, 4];
    request.inputs[0].data = [[4 + random() * 4, 2 + random() * 2, 1 + random() * 5, random() * 2.5]];
    return request;
  });
}

/** What each body gets from an app of its own, alone (outputs only: ids differ). */
async function aloneAnswers(bodies: unknown[]): Promise<unknown[]> {
  const { app } = buildTestApp(repository);
  const answers: unknown[] = [];
  for (const body of bodies)
    answers.push(json(await app.handle(postJson('/v2/models/iris/infer', body)))['outputs']);
  return answers;
}

function withSettings<T>(load: () => T): T {
  const saved = { ...process.env };
  Object.assign(process.env, { MODEL_REPOSITORY: repository.store.url, MODELFLEET_STAGE: 'local' });
  try {
    return load();
  } finally {
    process.env = saved;
  }
}

describe('GCP entry (functions/gcp/index.ts) under concurrent requests', () => {
  it('answers each request as alone, and requests arriving together share runs', async () => {
    // The function's Cloud Logging lines go to stdout: one per request, not this test's output.
    const quiet = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    // Before the entry builds its engine, which keeps the function it was built with.
    const run = jest.spyOn(inference, 'runInference');
    // Registers `modelfleet` in the framework module this file imports (no isolated registry).
    withSettings(() => require('../../functions/gcp/index'));
    const server = getTestServer('modelfleet').listen(0, '127.0.0.1') as Server;
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/models/iris/infer`;
    const post = async (body: unknown) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: response.status, outputs: ((await response.json()) as { outputs?: unknown }).outputs };
    };
    try {
      await post(irisBodies(1, 1)[0]);
      const rounds = [irisBodies(24, 2), irisBodies(24, 3), irisBodies(24, 4)];
      const rows: number[] = [];
      for (const bodies of rounds) {
        run.mockClear();
        const together = await Promise.all(bodies.map(post));
        rows.push(...run.mock.calls.map(([, call]) => rowsOf(call as InferCall)));
        const alone = await aloneAnswers(bodies);
        expect(together).toEqual(alone.map((outputs) => ({ status: 200, outputs })));
      }
      // Every request is one row: a run of more rows is a shared one.
      expect(rows.some((count) => count > 1)).toBe(true);
    } finally {
      run.mockRestore();
      quiet.mockRestore();
      server.close();
    }
  });
});

describe('Azure entry (functions/azure/index.ts) under concurrent invocations', () => {
  it('answers each invocation as alone, sharing runs from the second turn of them on', async () => {
    const registered: HttpFunctionOptions[] = [];
    // Stand-in for the Functions host's registry (the host cannot run here): capture `app.http`.
    jest.doMock('@azure/functions', () => ({
      ...jest.requireActual('@azure/functions'),
      app: { http: (_name: string, options: HttpFunctionOptions) => registered.push(options) },
    }));
    // Before the entry builds its engine, which keeps the function it was built with.
    const run = jest.spyOn(inference, 'runInference');
    try {
      withSettings(() => require('../../functions/azure/index'));
    } finally {
      jest.dontMock('@azure/functions');
    }
    const handler = registered[0]?.handler;
    if (handler === undefined) throw new Error('the entry registered no HTTP trigger');
    const invoke = async (body: unknown) => {
      const response = await handler(
        new HttpRequest({
          method: 'POST',
          url: 'http://127.0.0.1:7071/v2/models/iris/infer',
          headers: { 'content-type': 'application/json' },
          body: { string: JSON.stringify(body) },
        }),
        new InvocationContext({ functionName: 'modelfleet', logHandler: () => undefined }),
      );
      return { status: response.status, outputs: JSON.parse(String(response.body))['outputs'] };
    };
    await invoke(irisBodies(1, 5)[0]);
    try {
      for (const [round, bodies] of [irisBodies(12, 6), irisBodies(12, 7)].entries()) {
        await new Promise((resolve) => setImmediate(resolve));
        run.mockClear();
        const together = await Promise.all(bodies.map(invoke));
        expect(together).toEqual((await aloneAnswers(bodies)).map((outputs) => ({ status: 200, outputs })));
        // One turn of 12: the first runs at once and 11 share one run; the first time that run is
        // checked against the 11 alone (row-independence.ts).
        expect([round, run.mock.calls.length]).toEqual([round, round === 0 ? 13 : 2]);
      }
    } finally {
      run.mockRestore();
    }
  });
});
