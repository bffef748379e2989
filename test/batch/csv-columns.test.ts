/**
 * The CSV hot path must give exactly what the general path gives: the same numbers for the cells
 * it takes, the same outcome (line or error) for every row, the same JSON text for every output.
 */
import { cellValue } from '../../shared/batch/csv';
import { numericRows, scoreCsvLines } from '../../shared/batch/csv-columns';
import { LineBatch } from '../../shared/batch/lines';
import { decodeRow } from '../../shared/batch/rows';
import { rowLineWriter, scoreRows } from '../../shared/batch/score';
import type { LoadedModel } from '../../shared/serving/loaded-model';
import { ModelCache } from '../../shared/serving/model-cache';
import type { OutputTensor } from '../../shared/tensor/types';
import { removeTempDirs, sampleApp } from '../support/fixtures';
import { seededRandom } from '../support/random';

afterAll(() => removeTempDirs());

const LIMITS = { maxTensorElements: 1 << 20 };

/** The lines as a batch of three runs of separate blocks, as a batch straddling read windows is. */
function batchOf(lines: readonly string[]): LineBatch {
  const batch = new LineBatch();
  const third = Math.ceil(lines.length / 3);
  for (let from = 0; from < lines.length; from += third) {
    const run = LineBatch.of(lines.slice(from, from + third)).runs[0];
    if (run !== undefined) batch.add(run.block, run.from, run.to);
  }
  return batch;
}

/** Cells from the grammar a CSV export or a person typing produces, and the odd ones. */
function randomCell(random: () => number): string {
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(random() * 10)).join('');
  const forms = [
    () => digits(1 + Math.floor(random() * 4)),
    () => `${digits(1 + Math.floor(random() * 3))}.${digits(1 + Math.floor(random() * 4))}`,
    () => `-${digits(1)}.${digits(2)}`,
    () => `${digits(1 + Math.floor(random() * 9))}.${digits(1 + Math.floor(random() * 12))}`,
    () => `${digits(2)}.`,
    () => `.${digits(2)}`,
    () => `${digits(1)}e${random() < 0.5 ? '-' : ''}${digits(1)}`,
    () => ` ${digits(1)}.${digits(1)} `,
    () => `0x${digits(2)}`,
    () => '',
    () => '   ',
    () => '\u00a0',
    () => '-',
    () => '.',
    () => '1.2.3',
    () => '--1',
    () => 'NaN',
    () => 'Infinity',
    () => '-0',
    () => 'abc',
    () => '"1.5"',
    () => 'é1',
    () => `${digits(1)}€`,
    () => `${digits(17)}`,
  ];
  return (forms[Math.floor(random() * forms.length)] as () => string)();
}

describe('numericRows', () => {
  it('takes only lines the general path reads as numbers, with the same values, and every plain one', () => {
    const random = seededRandom(11);
    const width = 3;
    const lines = Array.from({ length: 20_000 }, () => {
      const cells = Array.from({ length: width + (random() < 0.05 ? (random() < 0.5 ? -1 : 1) : 0) }, () =>
        random() < 0.7 ? `${Math.floor(random() * 100)}.${Math.floor(random() * 100)}` : randomCell(random),
      );
      return cells.join(',');
    });
    // Columns written in reverse: cell j of a line lands at position width - 1 - j.
    const positions = [2, 1, 0];
    const { values, taken, others } = numericRows(batchOf(lines), positions);
    expect([...taken, ...others].sort((a, b) => a - b)).toEqual(lines.map((_, line) => line));
    expect(taken.length).toBeGreaterThan(5000);
    expect(others.length).toBeGreaterThan(5000);
    const general = lines.map((line) => decodeRow(line, 'csv', ['a', 'b', 'c']));
    const differences = taken.flatMap((line, i) => {
      const row = general[line];
      if (row === undefined || row instanceof Error || row.kind !== 'columns') return [lines[line]];
      return positions.flatMap((position, j) =>
        Object.is(values[i * width + position], row.cells[j]) ? [] : [`${lines[line]}: cell ${j}`],
      );
    });
    expect(differences).toEqual([]);
    // Refusing is always safe (the general path reads the line), but plain decimals must be taken.
    const plain = lines.flatMap((line, i) =>
      line.split(',').length === width && line.split(',').every((cell) => /^-?\d{1,15}(\.\d+)?$/.test(cell))
        ? [i]
        : [],
    );
    const takenSet = new Set(taken);
    expect(plain.filter((line) => !takenSet.has(line))).toEqual([]);
  });

  it('reads short decimals to the double Number gives (sign, zeros, 15 digits)', () => {
    const cells = [
      '0',
      '-0',
      '007',
      '0.1',
      '-0.10',
      '123456789012345',
      '1234567.89012345',
      '-.5',
      '9.999999999999999',
    ];
    const { values, taken } = numericRows(batchOf(cells.map((cell) => `${cell},1`)), [0, 1]);
    expect(taken).toHaveLength(cells.length);
    cells.forEach((cell, i) => {
      expect(Object.is(values[i * 2], cellValue(cell))).toBe(true);
    });
  });
});

describe('scoreCsvLines', () => {
  let iris: LoadedModel;
  let housePrice: LoadedModel;
  beforeAll(async () => {
    const { app } = await sampleApp();
    const cache = new ModelCache(app.repository, 2);
    iris = (await cache.get('iris', 1)).model;
    housePrice = (await cache.get('house-price', 1)).model;
  });

  const general = async (model: LoadedModel, lines: string[], header: string[]) =>
    scoreRows(
      model,
      lines.map((line) => decodeRow(line, 'csv', header)),
      LIMITS,
    );

  it('gives every row the outcome of the general path, feature columns in any order', async () => {
    const random = seededRandom(5);
    const header = ['petal_width', 'sepal_length', 'petal_length', 'sepal_width'];
    const lines = Array.from({ length: 600 }, () =>
      Array.from({ length: 4 }, () =>
        random() < 0.97 ? (random() * 7).toFixed(2) : randomCell(random),
      ).join(','),
    );
    lines.push('1e39,1,1,1', '1,2,3', '1,2,3,4,5', '"1",2,3,4');
    const fast = await scoreCsvLines(iris, batchOf(lines), header, LIMITS);
    expect(fast).toEqual(await general(iris, lines, header));
    expect(fast.filter((outcome) => typeof outcome === 'string').length).toBeGreaterThan(400);
    expect(fast[lines.length - 4]).toEqual({ error: expect.stringContaining('FP32') });
  });

  it('scores columns named after the inputs (mixed FP32 and INT64) as the general path does', async () => {
    const header = ['age', 'area', 'rooms', 'district'];
    const lines = ['12,84.5,3,2', '40,41,1,1', '3,130,5,0', '5,70,2.5,1', '7,60,,1', '8,55,2,3'];
    const fast = await scoreCsvLines(housePrice, batchOf(lines), header, LIMITS);
    expect(fast).toEqual(await general(housePrice, lines, header));
    expect(fast.slice(0, 3).every((outcome) => typeof outcome === 'string')).toBe(true);
    expect(fast[3]).toEqual({ error: expect.stringMatching(/rooms/) });
  });

  it('gives a header that is not the model’s columns the general path’s error on every row', async () => {
    const lines = ['1,2,3,4', '5,6,7,8'];
    const header = ['a', 'sepal_width', 'petal_length', 'petal_width'];
    const fast = await scoreCsvLines(iris, batchOf(lines), header, LIMITS);
    expect(fast).toEqual(await general(iris, lines, header));
    expect(fast[0]).toEqual({ error: expect.stringContaining('unknown column "a"') });
  });
});

describe('rowLineWriter', () => {
  const tensor = (name: string, shape: number[], data: unknown[]): OutputTensor => ({
    name,
    datatype: 'FP32',
    shape,
    data,
  });
  const stringified = (outputs: OutputTensor[], row: number) => {
    const record: Record<string, unknown> = {};
    for (const output of outputs) {
      const width = output.shape[1];
      record[output.name] =
        width === undefined ? output.data?.[row] : output.data?.slice(row * width, (row + 1) * width);
    }
    return JSON.stringify(record);
  };

  it('writes the text JSON.stringify writes for each row', () => {
    const outputs = [
      tensor('probabilities', [3, 2], [0.1, 0.9, Math.fround(0.3), -0, Number.NaN, Number.POSITIVE_INFINITY]),
      tensor('label', [3], ['a "quoted"\nname', 'é', true]),
      tensor('score', [3], [1e21, -1.5e-7, 2 ** 53 + 2]),
      tensor('empty', [3, 0], []),
    ];
    const write = rowLineWriter(outputs);
    expect(write).toBeDefined();
    for (let row = 0; row < 3; row++) expect(write?.(row)).toBe(stringified(outputs, row));
  });

  it.each([
    ['an array-index name', [tensor('0', [1], [1]), tensor('b', [1], [2])]],
    ['__proto__', [tensor('__proto__', [1], [1])]],
    ['the same name twice', [tensor('a', [1], [1]), tensor('a', [1], [2])]],
    ['three axes', [tensor('a', [1, 1, 1], [1])]],
    ['data shorter than the shape', [tensor('a', [2, 2], [1, 2, 3])]],
    ['a value JSON has no scalar for', [tensor('a', [1], [{ x: 1 }])]],
  ])('leaves %s to JSON.stringify', (_, outputs) => {
    expect(rowLineWriter(outputs)).toBeUndefined();
  });
});
