import { emfLines } from '../../shared/telemetry/emf';
import type { RequestMetricEvent } from '../../shared/telemetry/metric-event';
import { metricFigures, toAzureLogRecord, toCloudLoggingEntry } from '../../shared/telemetry/metric-formats';
import { successEvent } from '../support/metric-events';

// The shared successful request, served by the primary by sticky key and sampled for a shadow.
const shadowed: RequestMetricEvent = {
  ...successEvent,
  version: 1,
  variant: 'primary',
  sticky: true,
  coldStart: false,
  shadowVersion: 2,
  shadowAgreement: 0.5,
  shadowLatencyDeltaMs: -0.01234,
  shadowMs: 0.2,
};

describe('shadow comparison in the cloud metric formats', () => {
  it('adds shadow figures on sampled requests only, under the primary variant dimensions', () => {
    expect(metricFigures(shadowed).slice(-3)).toEqual([
      { name: 'ShadowErrors', unit: 'Count', value: 0 },
      { name: 'ShadowAgreement', unit: 'Count', value: 0.5 },
      { name: 'ShadowLatencyDelta', unit: 'Milliseconds', value: -0.012 },
    ]);
    const { shadowVersion: _v, shadowAgreement: _a, shadowLatencyDeltaMs: _d, ...plain } = shadowed;
    expect(metricFigures(plain).some((figure) => figure.name.startsWith('Shadow'))).toBe(false);
    const failed = metricFigures({ ...plain, shadowVersion: 2, shadowError: 'integrity' });
    expect(failed.filter((figure) => figure.name.startsWith('Shadow'))).toEqual([
      { name: 'ShadowErrors', unit: 'Count', value: 1 },
    ]);
    const regression = metricFigures({ ...plain, shadowVersion: 2, shadowMeanAbsDiff: 10 });
    expect(regression).toContainEqual({ name: 'ShadowMeanAbsDiff', unit: 'Count', value: 10 });
  });

  it('carries the shadow version and stickiness as context on every cloud', () => {
    // EMF: dimension values and metadata are top-level members of the document.
    expect(JSON.parse(emfLines(shadowed, 'modelfleet'))).toMatchObject({
      model: 'iris',
      variant: 'primary',
      version: '1',
      stage: 'prod',
      shadowVersion: '2',
      sticky: 'true',
    });
    expect(toCloudLoggingEntry(shadowed)).toMatchObject({
      shadowAgreement: 0.5,
      'logging.googleapis.com/labels': { shadowVersion: '2' },
    });
    expect(toAzureLogRecord(shadowed).record).toMatchObject({
      properties: { shadowVersion: '2' },
      measurements: { shadowAgreement: 0.5, shadowErrors: 0 },
    });
  });
});
