import { parseCsvLine } from '../../shared/batch/csv';
import { planChunks } from '../../shared/batch/job';
import { type ByteSource, lineBlocksInRange, lineText } from '../../shared/batch/lines';
import { decodeLine } from '../../shared/batch/rows';
import { scoreRows } from '../../shared/batch/score';
import { runInference } from '../../shared/serving/inference';
import type { LoadedModel } from '../../shared/serving/loaded-model';
import { ModelCache } from '../../shared/serving/model-cache';
import { closeFakeGcs, freshStore, type StoreKind } from '../storage/stores';
import { removeTempDirs, sampleApp } from '../support/fixtures';
import { seededRandom } from '../support/random';

afterAll(async () => {
  await closeFakeGcs();
  removeTempDirs();
});

const IRIS = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];

function memorySource(bytes: Buffer): ByteSource & { reads: number } {
  const source = {
    reads: 0,
    async read(start: number, end: number) {
      source.reads++;
      return { body: bytes.subarray(start, Math.min(end, bytes.byteLength)), size: bytes.byteLength };
    },
  };
  return source;
}

describe('CSV records', () => {
  it.each([
    ['a,b,c', ['a', 'b', 'c']],
    ['"a,b",c', ['a,b', 'c']],
    ['"say ""hi""",2', ['say "hi"', '2']],
    ['1,,3', ['1', '', '3']],
    ['"",x', ['', 'x']],
    ['x,', ['x', '']],
    ['"é, ü",5.1', ['é, ü', '5.1']],
  ])('%s', (line, cells) => {
    expect(parseCsvLine(line)).toEqual(cells);
  });

  it.each([
    ['"open,1', /quoted field runs past the end of the line/],
    ['"a"b,1', /expected a comma after the closing quote/],
    ['a"b,1', /a quote inside an unquoted field/],
  ])('refuses %s', (line, message) => {
    expect(() => parseCsvLine(line)).toThrow(message);
  });
});

describe('byte-range chunks', () => {
  it('cover every line exactly once, in order, whatever the chunk and window sizes', async () => {
    const random = seededRandom(7);
    // Some lines are not ASCII: windows with them are decoded line by line, the others at once.
    const lines = Array.from(
      { length: 500 },
      (_, i) => `${i},${(i % 50 === 3 ? 'é€' : 'x').repeat(Math.floor(random() * 40))}`,
    );
    // CRLF on some lines, a blank line, and no final newline.
    const text = `${lines.map((line, i) => (i % 7 === 0 ? `${line}\r\n` : `${line}\n`)).join('')}\n${'tail'}`;
    const bytes = Buffer.from(text);
    const expected = [...lines, 'tail'];
    for (const chunkBytes of [1024, 1500, 4096, 100_000]) {
      for (const window of [7, 64, 1 << 20]) {
        const seen: string[] = [];
        for (const chunk of planChunks(0, bytes.byteLength, chunkBytes)) {
          for await (const block of lineBlocksInRange(memorySource(bytes), chunk.start, chunk.end, window)) {
            block.offsets.forEach((offset, i) => {
              const line = lineText(block, i);
              expect(bytes.toString('utf8', offset, offset + Buffer.byteLength(line))).toBe(line);
              seen.push(line);
            });
          }
        }
        expect(seen).toEqual(expected);
      }
    }
  });

  it('reads a window at a time, never the whole object', async () => {
    const bytes = Buffer.from('row\n'.repeat(50_000));
    const source = memorySource(bytes);
    let count = 0;
    for await (const block of lineBlocksInRange(source, 0, bytes.byteLength, 4096))
      count += block.starts.length;
    expect(count).toBe(50_000);
    expect(source.reads).toBeGreaterThan(bytes.byteLength / 4096);
  });

  it.each<StoreKind>(['fs', 's3', 'azure', 'gcs'])(
    '%s: getRange gives the bytes and the size',
    async (kind) => {
      const store = await freshStore(kind);
      const body = Buffer.from('0123456789'.repeat(10));
      await store.put('in/data.csv', body);
      expect(await store.getRange?.('in/data.csv', 5, 15)).toEqual({ body: body.subarray(5, 15), size: 100 });
      expect(await store.getRange?.('in/data.csv', 95, 200)).toEqual({ body: body.subarray(95), size: 100 });
      expect((await store.getRange?.('in/data.csv', 100, 200))?.size).toBe(100);
      expect(await store.getRange?.('in/missing.csv', 0, 10)).toBeUndefined();
    },
  );
});

describe('rows and scoring', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    const { app } = await sampleApp();
    model = (await new ModelCache(app.repository, 1).get('iris', 1)).model;
  });

  it('decodes CSV cells, flat JSON rows and whole requests per line with the protocol parsers', () => {
    expect(decodeLine('5.1,3.5,1.4,0.2', 'csv', IRIS)).toEqual({
      kind: 'columns',
      names: IRIS,
      cells: [5.1, 3.5, 1.4, 0.2],
    });
    expect(decodeLine('{"sepal_length":5.1}', 'jsonl', undefined)).toMatchObject({ kind: 'columns' });
    expect(
      decodeLine(
        '{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}',
        'jsonl',
        undefined,
      ),
    ).toMatchObject({
      kind: 'request',
      format: { name: 'oip' },
    });
    expect(decodeLine('{"instances":[[1,2,3,4]]}', 'jsonl', undefined)).toMatchObject({
      format: { name: 'tfserving' },
    });
    expect(decodeLine('{"dataframe_records":[{"a":1}]}', 'jsonl', undefined)).toMatchObject({
      format: { name: 'mlflow' },
    });
    expect(() => decodeLine('1,2', 'csv', IRIS)).toThrow('CSV: 2 cells, the header names 4 columns');
    expect(() => decodeLine('{oops', 'jsonl', undefined)).toThrow(/not JSON/);
    expect(() => decodeLine('[1,2]', 'jsonl', undefined)).toThrow('expected a JSON object, got array');
  });

  it('gives each bad row its own error and scores the good rows of the same batch as a run of them alone', async () => {
    const lines = [
      '5.1,3.5,1.4,0.2',
      '6.7,3,5.2,2.3',
      '6.7,,5.2,2.3',
      '4.9,3,1.4,0.2',
      '5,x,1,1',
      '"unterminated,1,1,1',
    ];
    const rows = lines.map((line) => {
      try {
        return decodeLine(line, 'csv', IRIS);
      } catch (err) {
        return err as Error;
      }
    });
    const outcomes = await scoreRows(model, rows, { maxTensorElements: 1 << 20 });
    expect(outcomes.map((outcome) => (typeof outcome === 'string' ? 'ok' : 'error'))).toEqual([
      'ok',
      'ok',
      'error',
      'ok',
      'error',
      'error',
    ]);
    expect(outcomes[2]).toEqual({ error: 'column "sepal_width": expected a number, got an empty cell' });
    expect(outcomes[4]).toEqual({ error: 'column "sepal_width": expected a number, got "x"' });
    expect(outcomes[5]).toEqual({ error: expect.stringMatching(/^CSV: column 1: a quoted field runs past/) });
    const good = [lines[0], lines[1], lines[3]].flatMap((line) => (line as string).split(',').map(Number));
    const direct = await runInference(model, {
      inputs: new Map([['input', { name: 'input', shape: [3, 4], data: Float32Array.from(good) }]]),
      outputs: ['probabilities', 'label'],
    });
    const [probabilities, label] = direct.outputs;
    [0, 1, 3].forEach((row, i) => {
      expect(JSON.parse(outcomes[row] as string)).toEqual({
        probabilities: probabilities?.data?.slice(i * 3, i * 3 + 3),
        label: label?.data?.[i],
      });
    });
  });

  it('runs request lines together and answers each with its own batch axis and requested outputs', async () => {
    const rows = [
      decodeLine(
        '{"inputs":[{"name":"input","datatype":"FP32","shape":[2,4],"data":[5.1,3.5,1.4,0.2,6.7,3,5.2,2.3]}],"outputs":[{"name":"label"}]}',
        'jsonl',
        undefined,
      ),
      decodeLine('{"instances":[[4.9,3,1.4,0.2]]}', 'jsonl', undefined),
      decodeLine('{"instances":[[1,2,3]]}', 'jsonl', undefined),
    ];
    const outcomes = await scoreRows(model, rows, { maxTensorElements: 1 << 20 });
    expect(JSON.parse(outcomes[0] as string)).toEqual({ label: [0, 2] });
    expect(JSON.parse(outcomes[1] as string)).toMatchObject({ label: [0] });
    expect(outcomes[2]).toEqual({ error: expect.stringContaining('instances') });
  });
});
