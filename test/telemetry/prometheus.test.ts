import { LATENCY_BUCKETS_SECONDS, PrometheusRegistry } from '../../shared/telemetry/prometheus';
import { API_KEYS, KEYS, securedApp } from '../security/support';
import { get, postJson, sampleApp, sampleRequest } from '../support/fixtures';
import { seededRandom } from '../support/random';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A reader of the text exposition format (0.0.4): comment lines, then `name{labels} value`. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\w+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) types.set(type[1] as string, type[2] as string);
    if (line.startsWith('#')) continue;
    const match = /^(\w+)\{(.*)\} (\S+)$/.exec(line);
    if (match === null) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] as string).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"(?:,|$)/g)) {
      labels[pair[1] as string] = (pair[2] as string).replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    }
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return { samples, types };
}

const text = (body: string | Uint8Array) =>
  typeof body === 'string' ? body : Buffer.from(body).toString('utf8');

describe('GET /metrics (Prometheus text format)', () => {
  it('counts requests per model and variant, errors by status class, and a cumulative latency histogram', async () => {
    const { app } = await sampleApp();
    for (let i = 0; i < 3; i += 1) await app.handle(postJson('/v2/models/iris/infer', sampleRequest('iris')));
    await app.handle(postJson('/v2/models/iris/infer', { inputs: [] }));
    await app.handle(postJson('/v2/models/unknown/infer', sampleRequest('iris')));
    const response = await app.handle(get('/metrics'));
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { samples, types } = parseExposition(text(response.body));
    expect(types).toEqual(
      new Map([
        ['modelfleet_requests_total', 'counter'],
        ['modelfleet_request_errors_total', 'counter'],
        ['modelfleet_request_duration_seconds', 'histogram'],
      ]),
    );
    const find = (name: string, labels: Record<string, string>) =>
      samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    const iris = { route: 'infer', model: 'iris', variant: 'primary', version: '1' };
    expect(find('modelfleet_requests_total', { ...iris, status_class: '2xx' }).map((s) => s.value)).toEqual([
      3,
    ]);
    expect(find('modelfleet_request_errors_total', { ...iris, status_class: '4xx' })).toEqual([
      {
        name: 'modelfleet_request_errors_total',
        labels: { ...iris, status_class: '4xx', error_class: 'invalid_input' },
        value: 1,
      },
    ]);
    expect(
      find('modelfleet_request_errors_total', { route: 'infer', model: '', error_class: 'not_found' }),
    ).toHaveLength(1);
    const buckets = find('modelfleet_request_duration_seconds_bucket', iris);
    expect(buckets.map((b) => b.labels['le'])).toEqual([...LATENCY_BUCKETS_SECONDS.map(String), '+Inf']);
    const counts = buckets.map((b) => b.value);
    expect([...counts].sort((a, b) => a - b)).toEqual(counts);
    expect(counts.at(-1)).toBe(4);
    expect(find('modelfleet_request_duration_seconds_count', iris).map((s) => s.value)).toEqual([4]);
    expect(find('modelfleet_request_duration_seconds_sum', iris)[0]?.value).toBeGreaterThan(0);
  });

  it('needs the admin scope outside local, as /dashboard does', async () => {
    const { app } = await securedApp({ API_KEYS });
    expect((await app.handle(get('/metrics'))).status).toBe(401);
    expect((await app.handle(get('/metrics', { 'x-api-key': KEYS.predict }))).status).toBe(403);
    expect((await app.handle(get('/metrics', { 'x-api-key': KEYS.admin }))).status).toBe(200);
  });

  it('puts each event in the first bucket that holds it and escapes label values', () => {
    const registry = new PrometheusRegistry();
    const event = { timestamp: '', requestId: 'r', stage: 'prod', method: 'GET', coldStart: false };
    registry.record({ ...event, route: 'a"b\\c\nd', status: 200, latencyMs: 5 });
    registry.record({
      ...event,
      route: 'a"b\\c\nd',
      status: 503,
      errorClass: 'unavailable',
      latencyMs: 60_000,
    });
    const { samples } = parseExposition(registry.render());
    expect(samples.find((s) => s.name === 'modelfleet_requests_total')?.labels['route']).toBe('a"b\\c\nd');
    const bucket = (le: string) =>
      samples.find((s) => s.name === 'modelfleet_request_duration_seconds_bucket' && s.labels['le'] === le)
        ?.value;
    expect([bucket('0.0025'), bucket('0.005'), bucket('10'), bucket('+Inf')]).toEqual([0, 1, 1, 2]);
    expect(samples.find((s) => s.name === 'modelfleet_request_errors_total')?.labels).toMatchObject({
      status_class: '5xx',
      error_class: 'unavailable',
    });
  });

  it('counts each series apart when events of different series and statuses interleave', () => {
    // The registry finds the previous event's series again without a lookup: a change of any label
    // between consecutive events must still land in its own series.
    const registry = new PrometheusRegistry();
    const base = { timestamp: '', requestId: 'r', stage: 'prod', method: 'POST', coldStart: false };
    const series = [
      { route: 'infer', model: 'a', variant: 'primary', version: 1 },
      { route: 'infer', model: 'a', variant: 'canary', version: 2 },
      { route: 'infer', model: 'a', variant: 'primary', version: 2 },
      { route: 'infer', model: 'b', variant: 'primary', version: 1 },
      { route: 'model_ready', model: 'a', variant: 'primary', version: 1 },
      { route: 'live' },
    ];
    const expected = new Map<string, Record<string, number>>();
    const random = seededRandom(5);
    const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)] as T;
    for (let i = 0; i < 500; i++) {
      const labels = pick(series);
      const status = pick([200, 200, 404, 503, 100]);
      registry.record({ ...base, ...labels, status, latencyMs: 1 });
      const key = JSON.stringify([
        labels.route,
        labels.model ?? '',
        labels.variant ?? '',
        labels.version ?? '',
      ]);
      const counts = expected.get(key) ?? {};
      const statusClass = `${Math.floor(status / 100)}xx`;
      counts[statusClass] = (counts[statusClass] ?? 0) + 1;
      expected.set(key, counts);
    }
    const got = new Map<string, Record<string, number>>();
    for (const sample of parseExposition(registry.render()).samples) {
      if (sample.name !== 'modelfleet_requests_total') continue;
      const { route, model, variant, version, status_class: statusClass } = sample.labels;
      const key = JSON.stringify([route, model ?? '', variant ?? '', version ? Number(version) : '']);
      got.set(key, { ...got.get(key), [statusClass as string]: sample.value });
    }
    expect(got).toEqual(expected);
  });
});
