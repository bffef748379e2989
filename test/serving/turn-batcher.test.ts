import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildModel } from '../../scripts/lib/onnx-builder';
import { ModelRepository } from '../../shared/repository/repository';
import type { RunResult } from '../../shared/serving/engine';
import * as inference from '../../shared/serving/inference';
import type { LoadedModel } from '../../shared/serving/loaded-model';
import { groupsOf, TurnBatcher } from '../../shared/serving/turn-batcher';
import { WorkerPoolEngine } from '../../shared/serving/worker-pool';
import { FsModelStore } from '../../shared/store';
import { silentLogger } from '../../shared/telemetry/log';
import { sameOutputs } from '../../shared/tensor/compare';
import type { InferCall, OutputTensor } from '../../shared/tensor/types';
import {
  buildTestApp,
  json,
  postJson,
  removeTempDirs,
  sampleRepository,
  sampleRequest,
  tempDir,
} from '../support/fixtures';
import { seededRandom } from '../support/random';

afterAll(removeTempDirs);

/** A model "x" [batch, 2] → "y" [batch, 2] (y = 2x), and one whose output has no batch axis. */
function fakeModel(name: string, outputShape: number[] = [-1, 2]): LoadedModel {
  return {
    name,
    inputs: new Map([['x', { name: 'x', datatype: 'FP32', shape: [-1, 2] }]]),
    outputs: new Map([['y', { name: 'y', datatype: 'FP32', shape: outputShape }]]),
  } as unknown as LoadedModel;
}

function callOf(rows: number[][]): InferCall {
  return {
    inputs: new Map([['x', { name: 'x', shape: [rows.length, 2], data: Float32Array.from(rows.flat()) }]]),
    outputs: ['y'],
  };
}

/**
 * A fake run that doubles x (or, mixing rows, subtracts the call's mean), refuses any negative
 * value, and records each call it ran.
 */
function fakeRunner(batchAxisInOutput = true, mixRows = false) {
  const ran: number[][] = [];
  const run = (_model: LoadedModel, call: InferCall): Promise<RunResult> => {
    const x = Array.from(call.inputs.get('x')?.data as Float32Array);
    ran.push(x);
    if (x.some((v) => v < 0)) return Promise.reject(new Error(`negative value in ${x.join(',')}`));
    const rows = x.length / 2;
    const mean = x.reduce((sum, v) => sum + v, 0) / x.length;
    return Promise.resolve({
      outputs: [
        {
          name: 'y',
          datatype: 'FP32',
          shape: batchAxisInOutput ? [rows, 2] : [2 * rows],
          data: x.map((v) => (mixRows ? v - mean : 2 * v)),
        },
      ],
      runMs: 1,
    });
  };
  return { ran, run };
}

/** One turn: a first call, then `later` calls waiting for the turn's end; their results. */
async function turn(
  batcher: TurnBatcher,
  endTurn: () => void,
  model: LoadedModel,
  later: number[][][],
): Promise<RunResult[]> {
  const first = batcher.run(model, callOf([[1, 1]]), 1);
  const waiting = later.map((rows) => batcher.run(model, callOf(rows), rows.length));
  endTurn();
  await first;
  return Promise.all(waiting);
}

/** A batcher whose turns end when the test says so. */
function manualBatcher(runner: ReturnType<typeof fakeRunner>, maxRows?: number) {
  const ends: (() => void)[] = [];
  const batcher = new TurnBatcher({
    run: runner.run,
    defer: (flush) => ends.push(flush),
    ...(maxRows === undefined ? {} : { maxRows }),
  });
  const endTurn = () => {
    for (const flush of ends.splice(0)) flush();
  };
  return { batcher, endTurn };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnBatcher', () => {
  it('runs the first call of a turn at once, and the rest of the turn as one run at its end', async () => {
    const runner = fakeRunner();
    const { batcher, endTurn } = manualBatcher(runner);
    const model = fakeModel('m');
    const first = batcher.run(model, callOf([[1, 2]]), 1);
    expect(runner.ran).toEqual([[1, 2]]);
    const later = [
      batcher.run(model, callOf([[3, 4]]), 1),
      batcher.run(
        model,
        callOf([
          [5, 6],
          [7, 8],
        ]),
        2,
      ),
      batcher.run(model, callOf([[9, 10]]), 1),
    ];
    expect(runner.ran).toHaveLength(1);
    endTurn();
    expect((await first).outputs[0]?.data).toEqual([2, 4]);
    const expected = [
      [
        [1, 2],
        [6, 8],
      ],
      [
        [2, 2],
        [10, 12, 14, 16],
      ],
      [
        [1, 2],
        [18, 20],
      ],
    ];
    const answers = (results: RunResult[]) => results.map((r) => [r.outputs[0]?.shape, r.outputs[0]?.data]);
    expect(answers(await Promise.all(later))).toEqual(expected);
    // The version's first shared run is checked: each call also ran alone, and answered the same.
    expect(runner.ran.slice(1)).toEqual([
      [3, 4, 5, 6, 7, 8, 9, 10],
      [3, 4],
      [5, 6, 7, 8],
      [9, 10],
    ]);

    // Checked: the next turn shares one run, and the first call of it still runs at once.
    runner.ran.length = 0;
    const again = await turn(batcher, endTurn, model, [
      [[3, 4]],
      [
        [5, 6],
        [7, 8],
      ],
      [[9, 10]],
    ]);
    expect(answers(again)).toEqual(expected);
    expect(runner.ran).toEqual([
      [1, 1],
      [3, 4, 5, 6, 7, 8, 9, 10],
    ]);
  });

  it('never shares runs of a version whose shared run answered differently from runs alone', async () => {
    const runner = fakeRunner(true, true);
    const { batcher, endTurn } = manualBatcher(runner);
    const model = fakeModel('mixer');
    const first = await turn(batcher, endTurn, model, [[[1, 3]], [[5, 7]]]);
    // Answered from the runs alone (each row minus its own mean), not from the shared run.
    expect(first.map((r) => r.outputs[0]?.data)).toEqual([
      [-1, 1],
      [-1, 1],
    ]);
    expect(runner.ran.slice(1)).toEqual([
      [1, 3, 5, 7],
      [1, 3],
      [5, 7],
    ]);
    runner.ran.length = 0;
    const second = await turn(batcher, endTurn, model, [[[1, 3]], [[5, 7]]]);
    expect(second.map((r) => r.outputs[0]?.data)).toEqual([
      [-1, 1],
      [-1, 1],
    ]);
    expect(runner.ran).toEqual([
      [1, 1],
      [1, 3],
      [5, 7],
    ]);
  });

  it('keeps loaded versions apart, and caps the rows of a shared run', async () => {
    const runner = fakeRunner();
    const { batcher, endTurn } = manualBatcher(runner, 3);
    const [a, b] = [fakeModel('a'), fakeModel('b')];
    for (const model of [a, b]) await turn(batcher, endTurn, model, [[[7, 7]], [[8, 8]]]);
    runner.ran.length = 0;
    void batcher.run(a, callOf([[0, 0]]), 1);
    const waiting = [
      batcher.run(a, callOf([[1, 1]]), 1),
      batcher.run(b, callOf([[2, 2]]), 1),
      batcher.run(a, callOf([[3, 3]]), 1),
      batcher.run(a, callOf([[4, 4]]), 1),
      batcher.run(a, callOf([[5, 5]]), 1),
      batcher.run(b, callOf([[6, 6]]), 1),
    ];
    endTurn();
    await Promise.all(waiting);
    expect(runner.ran).toEqual([
      [0, 0],
      [1, 1, 3, 3, 4, 4],
      [5, 5],
      [2, 2, 6, 6],
    ]);
  });

  it('runs each call alone when the shared run fails: only the bad call fails', async () => {
    const runner = fakeRunner();
    const { batcher, endTurn } = manualBatcher(runner);
    const model = fakeModel('m');
    void batcher.run(model, callOf([[0, 0]]), 1);
    const good = batcher.run(model, callOf([[1, 2]]), 1);
    const bad = batcher.run(model, callOf([[-1, 2]]), 1);
    const alsoGood = batcher.run(model, callOf([[3, 4]]), 1);
    endTurn();
    await expect(bad).rejects.toThrow('negative value in -1,2');
    expect((await good).outputs[0]?.data).toEqual([2, 4]);
    expect((await alsoGood).outputs[0]?.data).toEqual([6, 8]);
    expect(runner.ran.slice(1)).toEqual([
      [1, 2, -1, 2, 3, 4],
      [1, 2],
      [-1, 2],
      [3, 4],
    ]);
  });

  it('runs each call alone when the outputs cannot be cut back into rows, or the calls differ', async () => {
    const runner = fakeRunner(false);
    const { batcher, endTurn } = manualBatcher(runner);
    const model = fakeModel('flat', [-1]);
    void batcher.run(model, callOf([[0, 0]]), 1);
    const waiting = [batcher.run(model, callOf([[1, 2]]), 1), batcher.run(model, callOf([[3, 4]]), 1)];
    endTurn();
    expect((await Promise.all(waiting)).map((r) => r.outputs[0]?.data)).toEqual([
      [2, 4],
      [6, 8],
    ]);
    expect(runner.ran.slice(1)).toEqual([
      [1, 2, 3, 4],
      [1, 2],
      [3, 4],
    ]);

    const other = fakeRunner();
    const second = manualBatcher(other);
    const square = fakeModel('m');
    void second.batcher.run(square, callOf([[0, 0]]), 1);
    const binary = { ...callOf([[1, 1]]), binaryOutputs: new Set(['y']) };
    const pending = [second.batcher.run(square, binary, 1), second.batcher.run(square, callOf([[2, 2]]), 1)];
    second.endTurn();
    await Promise.all(pending);
    expect(other.ran.slice(1)).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it('groups consecutive calls up to the row cap; a call above it goes alone', () => {
    const rows = (n: number[]) => n.map((count) => ({ rows: count }));
    const cut = (counts: number[], max: number) =>
      groupsOf(rows(counts), max).map((group) => group.map((entry) => entry.rows));
    expect(cut([1, 1, 1, 1], 2)).toEqual([
      [1, 1],
      [1, 1],
    ]);
    expect(cut([1, 5, 1], 4)).toEqual([[1], [5], [1]]);
    expect(cut([2, 2, 3, 1], 4)).toEqual([
      [2, 2],
      [3, 1],
    ]);
    expect(cut([], 4)).toEqual([]);
  });
});

describe('sameOutputs (the check of a first shared run)', () => {
  const output = (data: unknown[], extra: Partial<OutputTensor> = {}): OutputTensor => ({
    name: 'y',
    datatype: 'FP32',
    shape: [1, data.length],
    data,
    ...extra,
  });
  it('holds only for the same names, types, shapes and values, NaN included and -0 apart', () => {
    expect(sameOutputs([output([1, Number.NaN])], [output([1, Number.NaN])])).toBe(true);
    expect(sameOutputs([output([0])], [output([-0])])).toBe(false);
    expect(sameOutputs([output([1, 2])], [output([1, 2.0000001])])).toBe(false);
    expect(sameOutputs([output([1, 2])], [output([1, 2], { shape: [2, 1] })])).toBe(false);
    expect(sameOutputs([output([1])], [output([1], { name: 'z' })])).toBe(false);
    expect(sameOutputs([output([1])], [output([1], { datatype: 'FP64' })])).toBe(false);
    expect(sameOutputs([output([1])], [output([1]), output([2])])).toBe(false);
    expect(sameOutputs([], [])).toBe(true);
  });
});

describe('the server engine under concurrent requests', () => {
  /** House-price requests of 1–3 seeded rows each; `bad` puts a district the model has no row for. */
  function housePriceBodies(count: number, bad: Set<number>) {
    const random = seededRandom(21);
    return Array.from({ length: count }, (_, index) => {
      const rows = 1 + Math.floor(random() * 3);
      const request = sampleRequest('house-price');
      for (const input of request.inputs) {
        input.shape = [rows, 1];
        input.data = Array.from({ length: rows }, () => {
          if (input.name === 'area') return [Math.round(30 + random() * 150)];
          if (input.name === 'district') return [bad.has(index) ? 9 : Math.floor(random() * 5)];
          return [1 + Math.floor(random() * 5)];
        });
      }
      return request;
    });
  }

  /**
   * Rounds of requests sent at once through the server's engine (no workers), each answer compared
   * with the same request alone; the runs each round made.
   */
  async function concurrentRounds(
    repository: ModelRepository,
    model: string,
    rounds: unknown[][],
    expectedStatus: (round: number, index: number) => number = () => 200,
  ): Promise<number[]> {
    // Spied before the engine exists: its batcher keeps the function it was built with.
    const run = jest.spyOn(inference, 'runInference');
    const engine = new WorkerPoolEngine({ size: 0, inlineBelowMs: 1, log: silentLogger });
    const { app } = buildTestApp(repository, { engine });
    const alone = buildTestApp(repository).app;
    const ask = (target: typeof app, body: unknown) =>
      target.handle(postJson(`/v2/models/${model}/infer`, body));
    // Everything but the request id; of an error, its message (a stack differs in its frames).
    const comparable = (response: { body: string | Uint8Array }) => {
      const { id: _id, error, ...rest } = json(response);
      return error === undefined ? rest : { error };
    };
    await ask(app, rounds[0]?.[0]);
    const runs: number[] = [];
    try {
      for (const [round, bodies] of rounds.entries()) {
        await settle(); // the previous turn ends
        run.mockClear();
        const together = await Promise.all(bodies.map((body) => ask(app, body)));
        runs.push(run.mock.calls.length);
        for (const [index, body] of bodies.entries()) {
          const got = together[index] as { status: number; body: string };
          expect([round, index, got.status]).toEqual([round, index, expectedStatus(round, index)]);
          expect(comparable(got)).toEqual(comparable(await ask(alone, body)));
        }
      }
    } finally {
      run.mockRestore();
      await engine.close();
    }
    return runs;
  }

  it('answers each request as it is answered alone: checked in the first shared run, then shared', async () => {
    const bodies = housePriceBodies(24, new Set());
    const runs = await concurrentRounds(await sampleRepository(), 'house-price', [
      bodies,
      [...bodies].reverse(),
    ]);
    // The first request of a round runs at once; the other 23 share a run. In the first round
    // each of the 23 also ran alone (the check): 1 + 1 + 23, then 1 + 1.
    expect(runs).toEqual([25, 2]);
  });

  it('fails only the bad requests: a shared run the graph refuses is run again one by one', async () => {
    const bad = new Set([3, 17]);
    const runs = await concurrentRounds(
      await sampleRepository(),
      'house-price',
      [housePriceBodies(24, bad)],
      (_round, index) => (bad.has(index) ? 400 : 200),
    );
    expect(runs).toEqual([25]);
  });

  it('never shares runs of a model whose rows are not independent (x minus the mean over axis 0)', async () => {
    const dir = tempDir('modelfleet-mixer-');
    mkdirSync(path.join(dir, 'mixer', '1'), { recursive: true });
    const mixer = buildModel({
      name: 'mixer',
      inputs: [{ name: 'x', type: 'FLOAT', shape: ['batch', 2] }],
      outputs: [{ name: 'y', type: 'FLOAT', shape: ['batch', 2] }],
      nodes: [
        {
          op: 'ReduceMean',
          inputs: ['x'],
          outputs: ['mean'],
          attributes: { axes: { ints: [0] }, keepdims: { i: 1 } },
        },
        { op: 'Sub', inputs: ['x', 'mean'], outputs: ['y'] },
      ],
    });
    writeFileSync(path.join(dir, 'mixer', '1', 'model.onnx'), mixer);
    const random = seededRandom(5);
    const bodies = Array.from({ length: 12 }, () => ({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [random() * 10, random() * 10] }],
    }));
    const repository = new ModelRepository(new FsModelStore(dir));
    // Every answer equals the one alone (a request's own mean); the second round runs each alone.
    expect(await concurrentRounds(repository, 'mixer', [bodies, bodies])).toEqual([13, 12]);
  });
});
