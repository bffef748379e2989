/**
 * createSession runs onnxruntime-node's native binding directly, without the public
 * InferenceSession's event-loop turn per run. These tests hold it to the public session: same
 * signature, same outputs bit for bit, same refusals, on the samples and on a model of every
 * element type the builder makes. An onnxruntime upgrade that changes the binding fails here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildModel, type ElementType } from '../../scripts/lib/onnx-builder';
import { createSession } from '../../shared/serving/native-session';
import { type OrtSession, RUNTIME_PROBE_MODEL } from '../../shared/serving/onnx';
import { SAMPLES_DIR } from '../support/fixtures';
import { seededRandom } from '../support/random';

const PUBLIC_OPTIONS: ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  logSeverityLevel: 4,
};

/** Identity per element type, with a symbolic batch dimension and outputs in reverse order. */
function everyTypeModel(): Uint8Array {
  const types: ElementType[] = ['FLOAT', 'DOUBLE', 'INT32', 'INT64', 'BOOL'];
  return buildModel({
    name: 'every-type',
    inputs: types.map((type) => ({ name: `in_${type}`, type, shape: ['batch', 3] })),
    outputs: [...types].reverse().map((type) => ({ name: `out_${type}`, type, shape: ['batch', 3] })),
    nodes: types.map((type) => ({ op: 'Identity', inputs: [`in_${type}`], outputs: [`out_${type}`] })),
  });
}

const MODELS: [string, () => Uint8Array][] = [
  ['iris sample', () => readFileSync(path.join(SAMPLES_DIR, 'iris', 'model.onnx'))],
  ['house-price sample', () => readFileSync(path.join(SAMPLES_DIR, 'house-price', 'model.onnx'))],
  ['runtime probe', () => Buffer.from(RUNTIME_PROBE_MODEL, 'base64')],
  ['every element type', everyTypeModel],
];

/** Seeded inputs for a signature: symbolic dimensions become `batch`. */
function feedsFor(session: OrtSession, batch: number, seed: number): Record<string, ort.Tensor> {
  const random = seededRandom(seed);
  const feeds: Record<string, ort.Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor) throw new Error(`${meta.name} is not a tensor`);
    const dims = meta.shape.map((dim) => (typeof dim === 'number' ? dim : batch));
    const size = dims.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: size }, () => random() * 20 - 10);
    const data =
      meta.type === 'float32'
        ? Float32Array.from(values)
        : meta.type === 'float64'
          ? Float64Array.from(values)
          : meta.type === 'int32'
            ? Int32Array.from(values, (v) => Math.floor(Math.abs(v) / 2.5))
            : meta.type === 'int64'
              ? // Small indices: the house-price model looks its integer input up in a table of 5.
                BigInt64Array.from(values, (v) => BigInt(Math.floor(Math.abs(v) / 2.5)))
              : Uint8Array.from(values, (v) => (v > 0 ? 1 : 0));
    feeds[meta.name] = new ort.Tensor(meta.type, data, dims);
  }
  return feeds;
}

function described(outputs: Record<string, ort.Tensor>) {
  return Object.entries(outputs).map(([name, tensor]) => ({
    name,
    type: tensor.type,
    dims: tensor.dims,
    data: Array.from(tensor.data as ArrayLike<unknown>),
  }));
}

async function errorOf(run: () => Promise<unknown>): Promise<string> {
  return run().then(
    () => 'resolved',
    (err: unknown) => `${(err as Error).name}: ${(err as Error).message}`,
  );
}

describe.each(MODELS)('the direct session on the %s model', (_label, artifact) => {
  let direct: OrtSession;
  let reference: ort.InferenceSession;
  beforeAll(async () => {
    direct = await createSession(artifact());
    reference = await ort.InferenceSession.create(artifact(), PUBLIC_OPTIONS);
  });
  afterAll(async () => {
    await direct.release();
    await reference.release();
  });

  it('declares the signature the public session declares', () => {
    expect(direct.inputMetadata).toEqual(reference.inputMetadata);
    expect(direct.outputMetadata).toEqual(reference.outputMetadata);
  });

  it('gives the same outputs for seeded inputs, batch sizes and sets of outputs asked', async () => {
    const names = direct.outputMetadata.map((meta) => meta.name);
    for (const [batch, seed] of [
      [1, 1],
      [2, 2],
      [7, 3],
    ] as const) {
      const feeds = feedsFor(direct, batch, seed);
      for (const asked of [names, [...names].reverse(), names.slice(-1)]) {
        const got = described(await direct.run(feeds, asked));
        expect(got.map((output) => output.name).sort()).toEqual([...asked].sort());
        expect(got).toEqual(described(await reference.run(feeds, asked)));
        expect(Object.values(await direct.run(feeds, asked)).every((t) => t instanceof ort.Tensor)).toBe(
          true,
        );
      }
    }
  });

  it('refuses what the public session refuses, with its message', async () => {
    const names = direct.outputMetadata.map((meta) => meta.name);
    const feeds = feedsFor(direct, 2, 9);
    const first = direct.inputMetadata[0]?.name ?? '';
    const { [first]: _dropped, ...missing } = feeds;
    const wrongShape = { ...feeds, [first]: new ort.Tensor('float32', new Float32Array(5), [5]) };
    for (const [givenFeeds, asked] of [
      [missing, names],
      [wrongShape, names],
      [feeds, ['no_such_output']],
    ] as const) {
      const message = await errorOf(() => direct.run(givenFeeds, asked));
      expect(message).not.toBe('resolved');
      expect(message).toBe(await errorOf(() => reference.run(givenFeeds, [...asked])));
    }
  });
});

describe('the direct session', () => {
  it('answers without giving the event loop a turn, unlike the public session', async () => {
    const artifact = Buffer.from(RUNTIME_PROBE_MODEL, 'base64');
    const direct = await createSession(artifact);
    const reference = await ort.InferenceSession.create(artifact, PUBLIC_OPTIONS);
    const feeds = { x: new ort.Tensor('float32', Float32Array.from([1.5]), [1]) };
    const turnTaken = async (session: Pick<OrtSession, 'run'>) => {
      let turned = false;
      setImmediate(() => {
        turned = true;
      });
      await session.run(feeds, ['y']);
      return turned;
    };
    expect(await turnTaken(reference)).toBe(true);
    expect(await turnTaken(direct)).toBe(false);
    await direct.release();
    await reference.release();
  });

  it('refuses an artifact that is not a model, as the public session does', async () => {
    const junk = Buffer.from('not an onnx model');
    const message = await errorOf(() => createSession(junk));
    expect(message).toMatch(/^Error: /);
    expect(message).toBe(await errorOf(() => ort.InferenceSession.create(junk, PUBLIC_OPTIONS)));
  });
});
