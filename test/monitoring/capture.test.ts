import { readRecords } from '../../shared/control/monitor-report';
import { CAPTURE_DIR, recordHourPrefix } from '../../shared/repository/layout';
import { openStore } from '../../shared/store';
import type { CaptureRecord, RequestRecord } from '../../shared/telemetry/capture';
import { closeFakeGcs, freshStore, irisRequest, type StoreKind } from '../storage/stores';
import { startS3rver } from '../support/emulators';
import { postJson, removeTempDirs, sampleRequest } from '../support/fixtures';
import { monitoredApp } from './support';

const houseRequest = sampleRequest('house-price');

afterAll(async () => {
  await closeFakeGcs();
  removeTempDirs();
});

const infer = (id: string) => postJson('/v2/models/iris/infer', irisRequest, { 'x-request-id': id });

describe('data capture', () => {
  it.each<[StoreKind, number]>([
    ['fs', 10_000],
    // Fewer on the emulators: the count check is the same, the run stays short.
    ['s3', 2_000],
    ['azure', 2_000],
    ['gcs', 2_000],
  ])(
    'on the %s store, %i requests at 10%% → about a tenth captured, none lost on a clean shutdown',
    async (kind, count) => {
      const store = await freshStore(kind);
      const { app, repository, events } = await monitoredApp(store, {
        captureSampleRate: 0.1,
        captureBatchRecords: 250,
        captureMaxAgeMs: 60_000,
      });
      const started = new Date();
      for (let i = 0; i < count; i++) {
        const response = await app.handle(infer(`req-${i}`));
        expect(response.status).toBe(200);
      }
      await app.settled();
      const captured = events.filter((event) => event.captured === true).map((event) => event.requestId);
      // Binomial(count, 0.1): a 5σ band (±150 for 10 000).
      expect(Math.abs(captured.length - count / 10)).toBeLessThan(5 * Math.sqrt(count * 0.09));
      expect(events.every((event) => event.captureDropped === undefined)).toBe(true);
      const records = await readRecords<CaptureRecord>(
        repository,
        'iris',
        CAPTURE_DIR,
        'local',
        started,
        new Date(),
      );
      const requests = records.filter((record): record is RequestRecord => record.kind === 'request');
      expect(requests.map((record) => record.id).sort()).toEqual(captured.sort());
      const first = requests[0] as RequestRecord;
      expect(first).toMatchObject({
        kind: 'request',
        model: 'iris',
        version: 1,
        variant: 'primary',
        stage: 'local',
        status: 200,
      });
      expect(first.outputs?.map((output) => output.name).sort()).toEqual(['label', 'probabilities']);
      // Inputs are not captured unless CAPTURE_INPUTS says so.
      expect(first).not.toHaveProperty('inputs');
      const hour = await store.list(recordHourPrefix('iris', CAPTURE_DIR, 'local', started));
      expect(hour.length).toBeGreaterThanOrEqual(1);
      expect(hour.every((name) => name.endsWith('.jsonl.gz'))).toBe(true);
    },
    120_000,
  );

  it('captures inputs only when asked, and per-model rates override the stage rate', async () => {
    const store = await freshStore('fs');
    const { app, repository, events } = await monitoredApp(store, {
      captureSampleRate: 0,
      captureSampleRates: { iris: 1 },
      captureInputs: true,
    });
    const started = new Date();
    await app.handle(infer('with-inputs'));
    const other = await app.handle(
      postJson('/v2/models/house-price/infer', houseRequest, { 'x-request-id': 'not-captured' }),
    );
    expect(other.status).toBe(200);
    await app.settled();
    const records = await readRecords<RequestRecord>(
      repository,
      'iris',
      CAPTURE_DIR,
      'local',
      started,
      new Date(),
    );
    expect(records).toHaveLength(1);
    expect(records[0]?.inputs?.[0]).toMatchObject({ name: 'input', datatype: 'FP32', shape: [2, 4] });
    expect(events.find((event) => event.requestId === 'not-captured')?.captured).toBeUndefined();
  });

  it('never fails or holds up a request when the store is down; drops are counted in the metric event', async () => {
    const s3 = await startS3rver('capture-down');
    const store = openStore('s3://capture-down/models', {
      s3Endpoint: s3.endpoint,
      s3ForcePathStyle: true,
      s3Region: 'us-east-1',
    });
    const { app, events } = await monitoredApp(store, {
      captureSampleRate: 1,
      captureBatchRecords: 20,
      captureBufferRecords: 50,
    });
    await app.preload();
    await s3.stop();
    const slowest: number[] = [];
    for (let i = 0; i < 300; i++) {
      const started = performance.now();
      const response = await app.handle(infer(`down-${i}`));
      slowest.push(performance.now() - started);
      expect(response.status).toBe(200);
    }
    await app.settled();
    const dropped = events.reduce((sum, event) => sum + (event.captureDropped ?? 0), 0);
    expect(dropped).toBeGreaterThan(0);
    // Buffered + dropped account for every captured request: a full buffer never blocks.
    expect(events.filter((event) => event.captured === false).length).toBeGreaterThan(0);
    expect(Math.max(...slowest)).toBeLessThan(1000);
  }, 60_000);
});
