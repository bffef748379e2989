import { ConfigError } from '../errors';
import type { MonitoringSettings } from '../serving/monitoring';
import { type Env, readBoolean, readNumber, readString } from './env';

/** Capture is off unless asked for: it writes to the model repository's store. */
export function parseMonitoringSettings(env: Env, stage: string): MonitoringSettings {
  const rate = (name: string, raw: string) => {
    const value = Number(raw);
    if (raw.trim() === '' || !(value >= 0 && value <= 1)) {
      throw new ConfigError(name, `expected a sample rate from 0 to 1, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const overrides: Record<string, number> = {};
  for (const entry of readString(env, 'CAPTURE_SAMPLE_RATES', '').split(',')) {
    if (entry.trim() === '') continue;
    const match = /^\s*([A-Za-z0-9][A-Za-z0-9_.-]{0,127})\s*=\s*(\S*)\s*$/.exec(entry);
    if (match === null) {
      throw new ConfigError(
        'CAPTURE_SAMPLE_RATES',
        `expected model=rate pairs separated by ",", got ${JSON.stringify(entry)}`,
      );
    }
    overrides[match[1] as string] = rate('CAPTURE_SAMPLE_RATES', match[2] as string);
  }
  return {
    captureSampleRate: rate('CAPTURE_SAMPLE_RATE', readString(env, 'CAPTURE_SAMPLE_RATE', '0')),
    captureSampleRates: overrides,
    captureInputs: readBoolean(env, 'CAPTURE_INPUTS') ?? false,
    captureBatchRecords: readNumber(env, 'CAPTURE_BATCH_RECORDS', 500, {
      min: 1,
      max: 100_000,
      integer: true,
    }),
    captureMaxAgeMs: readNumber(env, 'CAPTURE_MAX_AGE_SECONDS', 60, { min: 0, max: 3600 }) * 1000,
    captureBufferRecords: readNumber(env, 'CAPTURE_BUFFER_RECORDS', 5000, {
      min: 1,
      max: 1_000_000,
      integer: true,
    }),
    driftIntervalMs:
      readNumber(env, 'DRIFT_INTERVAL_SECONDS', stage === 'local' ? 60 : 300, { min: 0, max: 86_400 }) * 1000,
    driftMinRows: readNumber(env, 'DRIFT_MIN_ROWS', 100, { min: 1, max: 1e9, integer: true }),
    driftPsiThreshold: readNumber(env, 'DRIFT_PSI_THRESHOLD', 0.2, { min: 0, max: 100 }),
  };
}
