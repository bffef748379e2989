import type { RecordDefaults, StreamRecord } from '../../shared/records/record-format';
import type { RecordOutcome } from '../../shared/records/stream-batch';
import { setCanary, setShadow, setSticky } from '../../shared/repository/deployment';
import * as inference from '../../shared/serving/inference';
import { json, postJson, removeTempDirs, sampleApp, sampleRequest } from '../support/fixtures';
import { deploy, IRIS_FEATURES, trafficApp, twoVersionRepository } from '../traffic/support';

afterAll(removeTempDirs);

const defaults: RecordDefaults = { model: 'iris', stage: 'local', format: 'auto' };
const record = (id: string, body: unknown, attributes?: Record<string, string>): StreamRecord => ({
  id,
  data: typeof body === 'string' ? body : JSON.stringify(body),
  ...(attributes === undefined ? {} : { attributes }),
});
const irisRow = (values: number[]) => Object.fromEntries(IRIS_FEATURES.map((name, i) => [name, values[i]]));
type Outputs = { name: string; data: unknown[]; shape: number[] }[];
const bodyOf = (outcome: RecordOutcome | undefined) => {
  if (outcome?.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(outcome)}`);
  return JSON.parse(outcome.body) as Record<string, unknown>;
};

/**
 * The first shared run of a version is checked against its records run alone (and answered from
 * those runs); two iris records get that done, so the batch a test looks at shares its run.
 */
async function checkedSharing(app: {
  records: { score: (r: StreamRecord[], d: RecordDefaults) => Promise<unknown> };
}) {
  await app.records.score(
    [record('w1', sampleRequest('iris')), record('w2', irisRow([5.1, 3.5, 1.4, 0.2]))],
    defaults,
  );
}

describe('records on the data plane', () => {
  it('scores OIP, MLflow, TF-Serving and flat-row records in one session.run, equal to HTTP', async () => {
    const { app, events } = await sampleApp();
    await checkedSharing(app);
    events.length = 0;
    const oip = sampleRequest('iris');
    const records = [
      record('a', oip),
      record('b', { dataframe_split: { columns: IRIS_FEATURES, data: [[5.1, 3.5, 1.4, 0.2]] } }),
      record('c', { instances: [[6.7, 3, 5.2, 2.3]] }),
      record('d', irisRow([6.7, 3, 5.2, 2.3])),
      record('e', [irisRow([5.1, 3.5, 1.4, 0.2]), irisRow([6.7, 3, 5.2, 2.3])]),
    ];
    const outcomes = await app.records.score(records, defaults);
    expect(outcomes.map((o) => [o.id, o.status])).toEqual(records.map((r) => [r.id, 'ok']));
    // One run over all 7 rows: each record's event names the batch session.run saw.
    expect(events).toHaveLength(5);
    expect(events.map((e) => [e.route, e.status, e.batchSize, e.model, e.version])).toEqual(
      records.map(() => ['record', 200, 7, 'iris', 1]),
    );
    const http = json(await app.handle(postJson('/v2/models/iris/infer', oip)));
    expect((bodyOf(outcomes[0])['outputs'] as Outputs).map((o) => o.data)).toEqual(
      (http['outputs'] as Outputs).map((o) => o.data),
    );
    expect(bodyOf(outcomes[0])).toMatchObject({ model_name: 'iris', model_version: '1', id: 'a' });
    // MLflow and rows answer MLflow's shape; TF-Serving its own; all name the record.
    const labels = (outcome: RecordOutcome | undefined) =>
      (bodyOf(outcome)['predictions'] as unknown[]) ?? [];
    expect(bodyOf(outcomes[1])).toMatchObject({ id: 'b', parameters: { variant: 'primary' } });
    expect(labels(outcomes[4])).toHaveProperty('label', [0, 2]);
    expect(labels(outcomes[3])).toHaveProperty('label', [2]);
    expect(labels(outcomes[2])).toEqual([expect.objectContaining({ label: 2 })]);
  });

  it('checks the first shared run of a version against its records run alone, and answers from those', async () => {
    const { app, events } = await sampleApp();
    const records = [record('x', sampleRequest('iris')), record('y', irisRow([6.7, 3, 5.2, 2.3]))];
    const run = jest.spyOn(inference, 'runInference');
    const first = await app.records.score(records, defaults);
    // The shared run and each record alone, once: the runs alone are the answers, not run again.
    expect(run).toHaveBeenCalledTimes(3);
    run.mockRestore();
    // Answered from the runs alone: each event names its own rows.
    expect(events.map((e) => [e.requestId, e.batchSize])).toEqual([
      ['x', 2],
      ['y', 1],
    ]);
    events.length = 0;
    const second = await app.records.score(records, defaults);
    expect(events.map((e) => [e.requestId, e.batchSize])).toEqual([
      ['x', 3],
      ['y', 3],
    ]);
    expect(second.map((o) => bodyOf(o)['outputs'] ?? bodyOf(o)['predictions'])).toEqual(
      first.map((o) => bodyOf(o)['outputs'] ?? bodyOf(o)['predictions']),
    );
  });

  it('isolates a poison record: only it fails, with the field and expected vs got', async () => {
    const { app, events } = await sampleApp();
    await checkedSharing(app);
    events.length = 0;
    const bad = sampleRequest('iris');
    bad.inputs[0].datatype = 'INT64';
    const outcomes = await app.records.score(
      [
        record('1', sampleRequest('iris')),
        record('2', bad),
        record('3', irisRow([5.1, 3.5, 1.4, 0.2])),
        record('4', '{"not json'),
        record('5', { sepal_length: 1 }),
      ],
      defaults,
    );
    expect(outcomes.map((o) => o.status)).toEqual(['ok', 'poison', 'ok', 'poison', 'poison']);
    expect(outcomes[1]).toMatchObject({
      error: {
        status: 400,
        errorClass: 'invalid_input',
        message: 'inputs[0].datatype: input "input" expects FP32, got INT64',
      },
    });
    expect(outcomes[3]).toMatchObject({
      error: { status: 400, message: expect.stringContaining('not valid JSON') },
    });
    expect(outcomes[4]).toMatchObject({
      error: { message: expect.stringContaining('missing column "sepal_width"') },
    });
    // The good ones still shared one run (2 + 1 rows); every record has its one event.
    expect(events.map((e) => [e.requestId, e.status, e.batchSize])).toEqual([
      ['1', 200, 3],
      ['2', 400, undefined],
      ['3', 200, 3],
      ['4', 400, undefined],
      ['5', 400, undefined],
    ]);
  });

  it('runs records one by one when they cannot share a run, and takes model and version from the record', async () => {
    const repository = await twoVersionRepository();
    const { app, events } = trafficApp(repository);
    const labelOnly = { ...sampleRequest('iris'), outputs: [{ name: 'label' }] };
    const outcomes = await app.records.score(
      [
        record('p', sampleRequest('iris')),
        record('q', labelOnly),
        record('r', { model: 'iris', version: 2, payload: sampleRequest('iris') }),
        record('s', sampleRequest('house-price'), { model: 'house-price' }),
        record('t', { model: 'nope', payload: sampleRequest('iris') }),
      ],
      defaults,
    );
    expect(outcomes.map((o) => o.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'poison']);
    expect(bodyOf(outcomes[1])['outputs']).toEqual([
      expect.objectContaining({ name: 'label', data: [0, 2] }),
    ]);
    expect(bodyOf(outcomes[2])).toMatchObject({ model_version: '2', parameters: { variant: 'pinned' } });
    expect(bodyOf(outcomes[3])).toMatchObject({ model_name: 'house-price' });
    expect(outcomes[4]).toMatchObject({ error: { status: 404 } });
    expect(events.map((e) => e.batchSize)).toEqual([2, 2, 2, 3, undefined]);
  });

  it('splits records over variants like requests (seeded), sticky by attribute, with per-record shadows', async () => {
    const repository = await twoVersionRepository();
    await deploy(repository, 'iris', (c) =>
      setShadow(setCanary(c, 2, 30, new Date()), { version: 2, sampleRate: 1 }, new Date()),
    );
    const { app, events } = trafficApp(repository, {}, 11);
    const records = Array.from({ length: 200 }, (_, i) => record(`r${i}`, sampleRequest('iris')));
    const outcomes = await app.records.score(records, defaults);
    const variants = outcomes.map((o) => (o.status === 'ok' ? o.variant : o.status));
    const canary = variants.filter((v) => v === 'canary').length;
    expect(canary + variants.filter((v) => v === 'primary').length).toBe(200);
    expect(canary).toBeGreaterThan(40);
    expect(canary).toBeLessThan(80);
    for (const outcome of outcomes) {
      const label = (bodyOf(outcome)['outputs'] as Outputs).find((o) => o.name === 'label');
      expect(label?.data).toEqual(outcome.status === 'ok' && outcome.variant === 'canary' ? [0, 1] : [0, 2]);
    }
    // Every primary record was shadowed on version 2 (rate 1) and compared in its own event.
    const primaries = events.filter((e) => e.variant === 'primary');
    expect(primaries.every((e) => e.shadowVersion === 2 && e.shadowAgreement === 0.5)).toBe(true);
    // The same seed gives the same split.
    const again = trafficApp(repository, {}, 11).app;
    const replay = await again.records.score(records, defaults);
    expect(replay.map((o) => (o.status === 'ok' ? o.variant : ''))).toEqual(variants);
    // A sticky key in the message attributes keeps a user on one variant.
    await deploy(repository, 'iris', (c) =>
      setSticky(
        setCanary(c, 2, 50, new Date()),
        { from: 'header', key: 'x-user-id', experiment: 'e' },
        new Date(),
      ),
    );
    const sticky = await trafficApp(repository).app.records.score(
      Array.from({ length: 20 }, (_, i) => record(`s${i}`, sampleRequest('iris'), { 'x-user-id': 'u-42' })),
      defaults,
    );
    expect(new Set(sticky.map((o) => (o.status === 'ok' ? o.variant : o.status))).size).toBe(1);
  });
});
