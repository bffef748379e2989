import { parseConfig } from '../../shared/config';
import { ConfigError } from '../../shared/errors';
import { recordBatchKey, recordHourPrefixes } from '../../shared/repository/layout';

describe('monitoring settings', () => {
  it('are off by default and read once, with per-model overrides', () => {
    expect(parseConfig({}).monitoring).toMatchObject({
      captureSampleRate: 0,
      captureSampleRates: {},
      captureInputs: false,
      driftPsiThreshold: 0.2,
      driftIntervalMs: 60_000,
    });
    const config = parseConfig({
      MODELFLEET_STAGE: 'prod',
      API_KEYS: '',
      CAPTURE_SAMPLE_RATE: '0.1',
      CAPTURE_SAMPLE_RATES: 'iris=0.5, house-price=0',
      CAPTURE_INPUTS: 'true',
    });
    expect(config.monitoring).toMatchObject({
      captureSampleRate: 0.1,
      captureSampleRates: { iris: 0.5, 'house-price': 0 },
      captureInputs: true,
      driftIntervalMs: 300_000,
    });
  });

  it.each([
    [{ CAPTURE_SAMPLE_RATE: '1.5' }, /^CAPTURE_SAMPLE_RATE: expected a sample rate from 0 to 1, got "1.5"/],
    [{ CAPTURE_SAMPLE_RATES: 'iris' }, /^CAPTURE_SAMPLE_RATES: expected model=rate pairs/],
    [
      { CAPTURE_SAMPLE_RATES: 'iris=x' },
      /^CAPTURE_SAMPLE_RATES: expected a sample rate from 0 to 1, got "x"/,
    ],
    [{ CAPTURE_BATCH_RECORDS: '0' }, /^CAPTURE_BATCH_RECORDS: must be between 1/],
    [{ DRIFT_PSI_THRESHOLD: 'high' }, /^DRIFT_PSI_THRESHOLD: expected a number/],
  ])('fail fast naming the variable: %j', (env, message) => {
    expect(() => parseConfig(env)).toThrow(ConfigError);
    expect(() => parseConfig(env)).toThrow(message);
  });

  it('date record batches by UTC hour', () => {
    const at = new Date('2026-03-04T05:59:59.999Z');
    expect(recordBatchKey('iris', 'capture', 'prod', at, 'b1')).toBe(
      'iris/capture/prod/2026/03/04/05/b1.jsonl.gz',
    );
    expect(
      recordHourPrefixes(
        'iris',
        'feedback',
        'prod',
        new Date('2026-12-31T23:10:00Z'),
        new Date('2027-01-01T01:00:00Z'),
      ),
    ).toEqual([
      'iris/feedback/prod/2026/12/31/23',
      'iris/feedback/prod/2027/01/01/00',
      'iris/feedback/prod/2027/01/01/01',
    ]);
  });
});
