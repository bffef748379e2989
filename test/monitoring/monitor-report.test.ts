import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { createLocalServer } from '../../functions/local/handler';
import { run, UsageError } from '../../scripts/cli';
import { IRIS_FEATURES, irisModel } from '../../scripts/lib/sample-models';
import type { App } from '../../shared/app';
import type { MonitorReport } from '../../shared/control/monitor-report';
import { ModelRepository } from '../../shared/repository/repository';
import { FsModelStore } from '../../shared/store';
import { json, postJson, removeTempDirs, tempDir } from '../support/fixtures';
import { ROOT } from '../support/processes';
import { seededRandom } from '../support/random';
import { irisRows, monitoredApp, writeCanaryHistory } from './support';

const ARTIFACTS = path.join(ROOT, 'artifacts');

afterAll(removeTempDirs);

async function cli(args: string[]): Promise<string> {
  const out: string[] = [];
  await run(args, {}, (text) => out.push(text));
  return out.join('\n');
}

let repositoryDir = '';
let app: App;

// One monitored history for the CLI and the dashboard: a model packaged with a baseline, traffic
// whose petal_width drifts, and feedback labels.
beforeAll(async () => {
  const work = tempDir('modelfleet-monitor-');
  repositoryDir = path.join(work, 'repo');
  const modelFile = path.join(work, 'iris.onnx');
  writeFileSync(modelFile, irisModel());
  const csv = [IRIS_FEATURES.join(','), ...irisRows(2000, seededRandom(5)).map((row) => row.join(','))].join(
    '\n',
  );
  writeFileSync(path.join(work, 'baseline.csv'), csv);
  await cli([
    'package',
    modelFile,
    '--name',
    'iris',
    '--features',
    IRIS_FEATURES.join(','),
    '--baseline',
    path.join(work, 'baseline.csv'),
    '--out',
    path.join(work, 'pkg'),
  ]);
  const manifest = JSON.parse(readFileSync(path.join(work, 'pkg', 'manifest.json'), 'utf8'));
  expect(Object.keys(manifest.baseline.features)).toEqual(IRIS_FEATURES);
  await cli(['publish', path.join(work, 'pkg'), '--promote', '--repository', repositoryDir]);
  ({ app } = await monitoredApp(new FsModelStore(repositoryDir), {
    captureSampleRate: 1,
    driftIntervalMs: 0,
    driftMinRows: 200,
    captureMaxAgeMs: 0,
  }));
  const petalWidth = IRIS_FEATURES.indexOf('petal_width');
  const rows = irisRows(800, seededRandom(6)).map((row, i) =>
    i < 400 ? row : row.map((x, j) => (j === petalWidth ? x + 0.8 : x)),
  );
  const labels: { id: string; label: number[] }[] = [];
  for (let i = 0; i < rows.length; i += 10) {
    const id = `m-${i}`;
    const batch = rows.slice(i, i + 10);
    const response = await app.handle(
      postJson(
        '/v2/models/iris/infer',
        { inputs: [{ name: 'input', datatype: 'FP32', shape: [batch.length, 4], data: batch.flat() }] },
        { 'x-request-id': id },
      ),
    );
    const label =
      (json(response)['outputs'] as { name: string; data: number[] }[]).find((o) => o.name === 'label')
        ?.data ?? [];
    // Ground truth agrees with the model on all but the first row of every batch: 90 % accuracy.
    labels.push({ id, label: label.map((l, k) => (k === 0 ? (l + 1) % 3 : l)) });
  }
  expect((await app.handle(postJson('/v2/models/iris/feedback', labels))).status).toBe(200);
  await app.settled();
  await writeCanaryHistory(new ModelRepository(new FsModelStore(repositoryDir)), 'iris-canary', new Date());
}, 60_000);

describe('modelfleet monitor', () => {
  it('reports per-variant traffic, accuracy and PSI with the drifting feature first', async () => {
    const report = JSON.parse(
      await cli(['monitor', 'iris', '--repository', repositoryDir, '--json']),
    ) as MonitorReport;
    const [primary] = report.variants;
    expect(report.variants).toHaveLength(1);
    expect(primary).toMatchObject({ variant: 'primary', requests: 80, share: 1, errors: 0 });
    expect(primary?.quality?.accuracy).toBeCloseTo(0.9, 10);
    expect(primary?.psi[0]?.feature).toBe('petal_width');
    expect(primary?.drifted).toEqual(['petal_width']);
    const text = await cli(['monitor', 'iris', '--repository', repositoryDir, '--since', '2h']);
    expect(text).toMatch(/primary v1: 80 captured \(100\.0%\).*accuracy 90\.0% on 800 rows/);
    expect(text).toMatch(/PSI: petal_width [\d.]+ DRIFT/);
    await expect(cli(['monitor', 'iris', '--since', 'yesterday'])).rejects.toBeInstanceOf(UsageError);
    await expect(cli(['monitor'])).rejects.toBeInstanceOf(UsageError);
  });

  it('shows a worse canary and the rollout steps over a stored history', async () => {
    const report = JSON.parse(
      await cli(['monitor', 'iris-canary', '--repository', repositoryDir, '--since', '4h', '--json']),
    ) as MonitorReport;
    const byName = Object.fromEntries(report.variants.map((v) => [v.variant, v]));
    expect(Object.keys(byName).sort()).toEqual(['canary', 'primary']);
    expect(byName['canary']?.quality?.accuracy).toBeLessThan(
      (byName['primary']?.quality?.accuracy ?? 0) - 0.1,
    );
    expect(byName['canary']?.drifted).toEqual(['petal_width']);
    expect(byName['primary']?.drifted).toEqual([]);
    expect(report.rollout.map((step) => step.action)).toHaveLength(4);
    expect(report.series['canary v2']?.length).toBeGreaterThan(20);
  });

  it('writes a self-contained HTML report', async () => {
    const file = path.join(tempDir('modelfleet-html-'), 'report.html');
    await cli(['monitor', 'iris', '--repository', repositoryDir, '--html', file]);
    const html = readFileSync(file, 'utf8');
    expect(html).toContain('window.MODELFLEET_REPORTS = [{"model":"iris"');
    expect(html).toMatch(/Chart\.js v4\.6\.1/);
    expect(html).not.toMatch(/<script src=/);
  });
});

describe('/dashboard', () => {
  it('needs the admin scope outside the local stage', async () => {
    const { app: guarded } = await monitoredApp(
      new FsModelStore(repositoryDir),
      {},
      { authRequired: true, apiKeys: [] },
    );
    expect((await guarded.handle({ method: 'GET', path: '/dashboard', query: {}, headers: {} })).status).toBe(
      401,
    );
  });

  it('serves its data as JSON, its scripts, a strict content security policy, and refuses bad parameters', async () => {
    const request = (path: string, query: Record<string, string> = {}) =>
      app.handle({ method: 'GET', path, query, headers: {} });
    const data = await request('/dashboard/data', { since: '4h', model: 'iris-canary' });
    expect(data.status).toBe(200);
    expect((json(data)['reports'] as MonitorReport[]).map((r) => r.model)).toEqual(['iris-canary']);
    expect((await request('/dashboard/data', { since: 'soon' })).status).toBe(400);
    expect((await request('/dashboard/data', { model: '../etc' })).status).toBe(400);
    const chartJs = await request('/dashboard/chart.js');
    expect(chartJs.status).toBe(200);
    expect(chartJs.headers['content-type']).toMatch(/javascript/);
    const page = await request('/dashboard');
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(String(page.body)).not.toMatch(/<script>/);
  });

  it('renders in headless Chromium with data in every plot', async () => {
    const server = createLocalServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const profile = tempDir('modelfleet-chromium-');
    const context = await chromium
      .launchPersistentContext(profile, {
        executablePath: '/usr/bin/chromium',
        viewport: { width: 1280, height: 1100 },
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      })
      .catch(async (err: unknown) => {
        await new Promise((resolve) => server.close(resolve));
        throw err;
      });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const failures: string[] = [];
      page.on('pageerror', (err) => failures.push(err.message));
      page.on('requestfailed', (request) => failures.push(request.url()));
      await page.goto(`http://127.0.0.1:${port}/dashboard?since=4h`);
      await page.waitForFunction(
        () =>
          (globalThis as unknown as { MODELFLEET_DASHBOARD?: { ready: boolean } }).MODELFLEET_DASHBOARD
            ?.ready === true,
        undefined,
        { timeout: 20_000 },
      );
      const status = await page.evaluate(
        () =>
          (
            globalThis as unknown as {
              MODELFLEET_DASHBOARD: { charts: number; byMetric: Record<string, number> };
            }
          ).MODELFLEET_DASHBOARD,
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      rmSync(path.join(ARTIFACTS, 'dashboard.png'), { force: true });
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
      expect(failures).toEqual([]);
      // iris and iris-canary get six plots each; house-price, with no captured traffic, a note.
      expect(status.charts).toBe(12);
      for (const metric of ['share', 'errorRate', 'p50', 'p99', 'accuracy', 'psiMax']) {
        expect(status.byMetric[metric]).toBeGreaterThan(0);
      }
      expect(readFileSync(path.join(ARTIFACTS, 'dashboard.png')).length).toBeGreaterThan(10_000);
    } finally {
      await context.close();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);
});
