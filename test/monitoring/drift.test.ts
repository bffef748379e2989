import { IRIS_FEATURES, irisModel } from '../../scripts/lib/sample-models';
import { parseBaselineData } from '../../shared/control/baseline';
import { readRecords } from '../../shared/control/monitor-report';
import { packageModel } from '../../shared/control/packaging';
import { promote } from '../../shared/repository/deployment';
import { CAPTURE_DIR } from '../../shared/repository/layout';
import { parseManifest } from '../../shared/repository/manifest';
import { FsModelStore } from '../../shared/store';
import type { CaptureRecord, DriftRecord } from '../../shared/telemetry/capture';
import { featureBaseline, psi } from '../../shared/telemetry/drift';
import { metricFigures } from '../../shared/telemetry/metric-formats';
import { postJson, removeTempDirs, tempDir } from '../support/fixtures';
import { seededRandom } from '../support/random';
import { irisRows, monitoredApp } from './support';

afterAll(removeTempDirs);

const THRESHOLD = 0.2;

function columnsOf(rows: number[][]): Map<string, unknown[]> {
  return new Map(IRIS_FEATURES.map((name, j) => [name, rows.map((row) => row[j])]));
}

describe('drift', () => {
  it('PSI is about 0 for the same distribution and large for a shifted one', () => {
    const random = seededRandom(1);
    const base = featureBaseline(Array.from({ length: 5000 }, () => random()));
    if (base.kind !== 'numeric') throw new Error('expected a numeric baseline');
    const same = Array.from({ length: 2000 }, () => random());
    const shifted = Array.from({ length: 2000 }, () => random() + 0.5);
    const counts = (values: number[]) => {
      const c = new Array(base.fractions.length).fill(0);
      for (const v of values) c[base.edges.filter((edge) => v >= edge).length]++;
      return c;
    };
    expect(psi(base.fractions, counts(same))).toBeLessThan(0.02);
    expect(psi(base.fractions, counts(shifted))).toBeGreaterThan(1);
  });

  it('a tabular model whose petal_width shifts: only that feature crosses the PSI threshold', async () => {
    const baselineRows = irisRows(3000, seededRandom(11));
    const pkg = await packageModel({
      name: 'iris',
      artifact: irisModel(),
      features: IRIS_FEATURES,
      baseline: columnsOf(baselineRows),
    });
    expect(Object.keys(pkg.manifest.baseline?.features ?? {})).toEqual(IRIS_FEATURES);
    expect(pkg.manifest.baseline?.prediction).toMatchObject({ kind: 'categorical' });
    const store = new FsModelStore(tempDir('modelfleet-drift-'));
    const { app, repository, events } = await monitoredApp(store, {
      captureSampleRate: 1,
      driftIntervalMs: 0,
      driftMinRows: 600,
      captureMaxAgeMs: 0,
    });
    const version = await repository.publish(pkg);
    await repository.updateDeployment('iris', 'local', (current) =>
      promote(current, { model: 'iris', stage: 'local', version }, new Date(), 'test'),
    );
    const started = new Date();
    const send = async (rows: number[][]) => {
      for (let i = 0; i < rows.length; i += 20) {
        const batch = rows.slice(i, i + 20);
        const response = await app.handle(
          postJson('/v2/models/iris/infer', {
            inputs: [{ name: 'input', datatype: 'FP32', shape: [batch.length, 4], data: batch.flat() }],
          }),
        );
        expect(response.status).toBe(200);
      }
    };
    await send(irisRows(600, seededRandom(12)));
    const petalWidth = IRIS_FEATURES.indexOf('petal_width');
    await send(
      irisRows(600, seededRandom(13)).map((row) => row.map((x, j) => (j === petalWidth ? x + 0.8 : x))),
    );
    await app.settled();

    const windows = events.filter((event) => event.driftPsi !== undefined);
    expect(windows).toHaveLength(2);
    const [steady, shifted] = windows.map((event) => event.driftPsi as Record<string, number>);
    for (const feature of IRIS_FEATURES) expect(steady?.[feature]).toBeLessThan(THRESHOLD);
    expect(shifted?.['petal_width']).toBeGreaterThan(THRESHOLD);
    for (const feature of IRIS_FEATURES.filter((f) => f !== 'petal_width')) {
      expect(shifted?.[feature]).toBeLessThan(THRESHOLD);
    }
    const figures = metricFigures(windows[1] as (typeof windows)[number]);
    expect(figures.find((f) => f.name === 'PSI_petal_width')?.value).toBe(shifted?.['petal_width']);
    expect(figures.find((f) => f.name === 'DriftPSIMax')?.value).toBe(shifted?.['petal_width']);
    // The snapshots are captured too, for reports over time.
    const records = await readRecords<CaptureRecord>(
      repository,
      'iris',
      CAPTURE_DIR,
      'local',
      started,
      new Date(),
    );
    const drift = records.filter((r): r is DriftRecord => r.kind === 'drift');
    expect(drift.map((r) => r.psi['petal_width'])).toEqual([
      steady?.['petal_width'],
      shifted?.['petal_width'],
    ]);
  }, 60_000);

  it('manifests without a baseline still parse; a malformed one is refused with its path', async () => {
    const pkg = await packageModel({ name: 'iris', artifact: irisModel(), features: IRIS_FEATURES });
    expect(parseManifest(JSON.parse(JSON.stringify(pkg.manifest)), 'old').baseline).toBeUndefined();
    const bad = {
      ...pkg.manifest,
      baseline: {
        rows: 3,
        features: {
          sepal_length: { kind: 'numeric', edges: [1, 2], fractions: [1], mean: 1, min: 0, max: 2 },
        },
      },
    };
    expect(() => parseManifest(bad, 'bad')).toThrow(/baseline\.features\.sepal_length\.fractions/);
  });

  it('reads baselines from CSV and JSON lines', () => {
    const csv = parseBaselineData('a,b,"c, quoted"\n1,x,2.5\n3,"y ""z""",4\n', 'csv');
    expect([...csv.entries()]).toEqual([
      ['a', [1, 3]],
      ['b', ['x', 'y "z"']],
      ['c, quoted', [2.5, 4]],
    ]);
    const jsonl = parseBaselineData('{"a":1,"b":"x"}\n\n{"a":2,"b":"y"}\n', 'jsonl');
    expect(jsonl.get('a')).toEqual([1, 2]);
    expect(() => parseBaselineData('{"a":1}\nnope\n', 'jsonl')).toThrow(/line 2: not JSON/);
  });
});
