import { compareWithShadow } from '../../shared/traffic/shadow';

const t = (name: string, datatype: string, shape: number[], data: unknown[]) => ({
  name,
  datatype,
  shape,
  data,
});

describe('compareWithShadow', () => {
  it('compares label outputs row by row, preferring them over scores', () => {
    const primary = [
      t('scores', 'FP32', [4, 2], [1, 0, 1, 0, 0, 1, 0, 1]),
      t('label', 'INT64', [4], [0, 0, 1, 1]),
    ];
    const shadow = [
      t('scores', 'FP32', [4, 2], [0, 1, 0, 1, 0, 1, 0, 1]),
      t('label', 'INT64', [4], [0, 1, 1, '1']),
    ];
    expect(compareWithShadow(primary, shadow)).toEqual({
      kind: 'classification',
      output: 'label',
      agreement: 0.75,
    });
  });

  it('reads a float output with a last axis above 1 as class scores (arg-max agreement)', () => {
    const primary = [t('p', 'FP32', [2, 3], [0.7, 0.2, 0.1, 0.1, 0.1, 0.8])];
    const shadow = [t('p', 'FP32', [2, 3], [0.5, 0.4, 0.1, 0.1, 0.8, 0.1])];
    expect(compareWithShadow(primary, shadow)).toEqual({
      kind: 'classification',
      output: 'p',
      agreement: 0.5,
    });
  });

  it('reads any other float output as a regression (mean absolute difference)', () => {
    const primary = [t('price', 'FP32', [3, 1], [100, 200, 300])];
    const shadow = [t('price', 'FP32', [3, 1], [110, 190, 300])];
    expect(compareWithShadow(primary, shadow)).toEqual({
      kind: 'regression',
      output: 'price',
      meanAbsDiff: 20 / 3,
    });
  });

  it('gives up when no output matches by name, type and shape', () => {
    expect(
      compareWithShadow([t('y', 'FP32', [2], [1, 2])], [t('y', 'FP32', [3], [1, 2, 3])]),
    ).toBeUndefined();
    expect(compareWithShadow([t('y', 'FP32', [2], [1, 2])], [t('z', 'FP32', [2], [1, 2])])).toBeUndefined();
    expect(compareWithShadow([t('y', 'FP32', [2], [1, 2])], [t('y', 'FP64', [2], [1, 2])])).toBeUndefined();
  });
});
