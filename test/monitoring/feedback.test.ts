import { createHash } from 'node:crypto';
import { IRIS_FEATURES, IRIS_WEIGHTS, irisModel } from '../../scripts/lib/sample-models';
import { readRecords } from '../../shared/control/monitor-report';
import { packageModel } from '../../shared/control/packaging';
import { setVariants } from '../../shared/repository/deployment';
import { CAPTURE_DIR, FEEDBACK_DIR } from '../../shared/repository/layout';
import type { Scope } from '../../shared/security/api-keys';
import type { FeedbackItem } from '../../shared/serving/feedback';
import { FsModelStore } from '../../shared/store';
import type { CaptureRecord, FeedbackRecord } from '../../shared/telemetry/capture';
import { metricFigures } from '../../shared/telemetry/metric-formats';
import { accuracyByVariant, qualityByVariant } from '../../shared/telemetry/quality';
import { json, postJson, removeTempDirs, sampleRequest, tempDir } from '../support/fixtures';
import { seededRandom } from '../support/random';
import { irisRows, monitoredApp } from './support';

afterAll(removeTempDirs);

const TRUE_BIAS = [9.85, 2.24, -12.09];
// Version 2 favours the second class: it mislabels part of the rows near the class borders.
const WORSE_BIAS = [9.85, 5.5, -12.09];

function classify(row: readonly number[], bias: readonly number[]): number {
  const logits = bias.map((b, k) => b + row.reduce((sum, x, j) => sum + x * (IRIS_WEIGHTS[j]?.[k] ?? 0), 0));
  return logits.indexOf(Math.max(...logits));
}

async function abTest() {
  const store = new FsModelStore(tempDir('modelfleet-feedback-'));
  const monitored = await monitoredApp(store, { captureSampleRate: 1, captureMaxAgeMs: 0 });
  const worse = await packageModel({
    name: 'iris',
    artifact: irisModel(WORSE_BIAS),
    features: IRIS_FEATURES,
  });
  const version = await monitored.repository.publish(worse);
  await monitored.repository.updateDeployment('iris', 'local', (current) =>
    setVariants(
      current,
      [
        { name: 'a', version: 1, weight: 50 },
        { name: 'b', version, weight: 50 },
      ],
      new Date(),
      'test',
    ),
  );
  return monitored;
}

describe('feedback', () => {
  it('joins labels with captured predictions: the less accurate variant shows the expected accuracy drop', async () => {
    const { app, repository, events } = await abTest();
    const rows = irisRows(300, seededRandom(3));
    const truth = new Map<string, number>();
    const expectedB = { rows: 0, correct: 0 };
    for (const [i, row] of rows.entries()) {
      const id = `ab-${i}`;
      const response = await app.handle(
        postJson(
          '/v2/models/iris/infer',
          { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row }] },
          {
            'x-request-id': id,
          },
        ),
      );
      expect(response.status).toBe(200);
      truth.set(id, classify(row, TRUE_BIAS));
      if (response.headers['x-model-variant'] === 'b') {
        expectedB.rows++;
        if (classify(row, WORSE_BIAS) === truth.get(id)) expectedB.correct++;
      }
    }
    expect(expectedB.rows).toBeGreaterThan(100);
    // The worse variant is wrong on a real share of rows, so the drop is measurable.
    expect(expectedB.correct / expectedB.rows).toBeLessThan(0.9);
    const items = [...truth].map(([id, label]) => ({ id, label }));
    for (let i = 0; i < items.length; i += 100) {
      const response = await app.handle(postJson('/v2/models/iris/feedback', items.slice(i, i + 100)));
      expect(response.status).toBe(200);
      expect(json(response)).toMatchObject({ model: 'iris', accepted: 100, joined: 100 });
    }
    // The joined figures ride the next events of each variant.
    for (let i = 0; i < 20; i++) {
      await app.handle(
        postJson('/v2/models/iris/infer', {
          inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: rows[0] }],
        }),
      );
    }
    await app.settled();
    const perVariant: Record<string, { rows: number; correct: number }> = {};
    for (const event of events) {
      if (event.feedbackRows === undefined || event.variant === undefined) continue;
      const tally = perVariant[event.variant] ?? { rows: 0, correct: 0 };
      perVariant[event.variant] = tally;
      tally.rows += event.feedbackRows;
      tally.correct += event.feedbackCorrect ?? 0;
      expect(metricFigures(event).map((f) => f.name)).toEqual(
        expect.arrayContaining(['FeedbackRows', 'FeedbackCorrect', 'Accuracy']),
      );
    }
    expect(perVariant['a']).toEqual({ rows: 300 - expectedB.rows, correct: 300 - expectedB.rows });
    expect(perVariant['b']).toEqual(expectedB);

    // The same aggregate from the store, as the rollout guard and `modelfleet monitor` read it.
    const since = new Date(Date.now() - 3_600_000);
    const [captures, feedback] = await Promise.all([
      readRecords<CaptureRecord>(repository, 'iris', CAPTURE_DIR, 'local', since, new Date()),
      readRecords<FeedbackRecord>(repository, 'iris', FEEDBACK_DIR, 'local', since, new Date()),
    ]);
    const accuracy = accuracyByVariant(captures, feedback);
    expect(accuracy['a']).toEqual({ version: 1, rows: 300 - expectedB.rows, accuracy: 1 });
    expect(accuracy['b']?.accuracy).toBeCloseTo(expectedB.correct / expectedB.rows, 10);
  }, 60_000);

  it('gives regressors MAE and RMSE, from values or from named outputs', async () => {
    const store = new FsModelStore(tempDir('modelfleet-feedback-'));
    const { app, repository, events } = await monitoredApp(store, {
      captureSampleRate: 1,
      captureMaxAgeMs: 0,
    });
    const request = sampleRequest('house-price');
    const items: FeedbackItem[] = [];
    for (let i = 0; i < 20; i++) {
      const response = await app.handle(
        postJson('/v2/models/house-price/infer', request, { 'x-request-id': `h-${i}` }),
      );
      const price = ((json(response)['outputs'] as { data: number[] }[])[0]?.data ?? []).map(Number);
      // True prices 2 above the prediction on even requests, 4 below on odd ones: MAE 3, RMSE √10.
      const truth = price.map((p) => p + (i % 2 === 0 ? 2 : -4));
      items.push(
        i < 10 ? { id: `h-${i}`, value: truth } : { id: `h-${i}`, outputs: [{ name: 'price', data: truth }] },
      );
    }
    const response = await app.handle(postJson('/v2/models/house-price/feedback', items));
    expect(json(response)).toMatchObject({ accepted: 20, joined: 20 });
    await app.handle(postJson('/v2/models/house-price/infer', request));
    await app.settled();
    const carrying = events.filter((event) => event.feedbackRows !== undefined);
    expect(carrying).toHaveLength(1);
    const [event] = carrying as [(typeof carrying)[number]];
    expect(event.feedbackRows).toBe(60);
    expect((event.feedbackAbsError ?? 0) / 60).toBeCloseTo(3, 3);
    expect(metricFigures(event).find((f) => f.name === 'MAE')?.value).toBeCloseTo(3, 3);
    const since = new Date(Date.now() - 3_600_000);
    const [quality] = qualityByVariant(
      await readRecords<CaptureRecord>(repository, 'house-price', CAPTURE_DIR, 'local', since, new Date()),
      await readRecords<FeedbackRecord>(repository, 'house-price', FEEDBACK_DIR, 'local', since, new Date()),
    );
    expect(quality).toMatchObject({ kind: 'regression', variant: 'primary', joined: 20, rows: 60 });
    expect(quality?.mae).toBeCloseTo(3, 3);
    expect(quality?.rmse).toBeCloseTo(Math.sqrt(10), 3);
  });

  it('rejects malformed feedback with a 4xx naming the item and field', async () => {
    const { app } = await abTest();
    const cases: [unknown, RegExp][] = [
      [[], /at least one/],
      [{ label: 1 }, /feedback\.id: expected the request's x-request-id/],
      [
        [{ id: 'x', label: 1 }, { id: 'y' }],
        /feedback\[1\]: expected exactly one of label, value or outputs, got none/,
      ],
      [{ id: 'x', label: 1, value: 2 }, /got label and value/],
      [{ id: 'x', label: { a: 1 } }, /feedback\.label: expected a class label/],
      [{ id: 'x', value: [1, 'two'] }, /feedback\.value\[1\]: expected a finite number, got string "two"/],
      [{ id: 'x', outputs: [{ data: [1] }] }, /feedback\.outputs\[0\]\.name: expected an output name/],
      [{ id: 'x', label: 1, extra: true }, /unknown field "extra"/],
      ['{not json', /JSON/i],
    ];
    for (const [body, message] of cases) {
      const response = await app.handle(postJson('/v2/models/iris/feedback', body));
      expect(response.status).toBe(400);
      expect(String(json(response)['error'])).toMatch(message);
    }
    const unknown = await app.handle(postJson('/v2/models/nope/feedback', { id: 'x', label: 1 }));
    expect(unknown.status).toBe(404);
    const wrongMethod = await app.handle({
      method: 'GET',
      path: '/v2/models/iris/feedback',
      query: {},
      headers: {},
    });
    expect(wrongMethod.status).toBe(405);
  });

  it('needs the feedback scope when authentication is on', async () => {
    const store = new FsModelStore(tempDir('modelfleet-feedback-'));
    const key = (name: string, scopes: Scope[]) => ({
      name,
      sha256: createHash('sha256').update(`${name}-secret`).digest('hex'),
      scopes,
      revoked: false,
    });
    const { app } = await monitoredApp(
      store,
      {},
      {
        authRequired: true,
        apiKeys: [key('client', ['predict']), key('labeller', ['feedback'])],
      },
    );
    const send = (name: string) =>
      app.handle(
        postJson('/v2/models/iris/feedback', { id: 'x', label: 1 }, { 'x-api-key': `${name}-secret` }),
      );
    const refused = await send('client');
    expect(refused.status).toBe(403);
    expect(String(json(refused)['error'])).toMatch(/lacks the "feedback" scope/);
    expect((await send('labeller')).status).toBe(200);
  });
});
