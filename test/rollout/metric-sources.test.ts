import {
  CloudMonitoringMetricSource,
  GCP_METRICS,
} from '../../shared/control/metric-sources/cloud-monitoring';
import { CloudWatchMetricSource, WARM_LATENCY_METRIC } from '../../shared/control/metric-sources/cloudwatch';
import { MetricQueryError } from '../../shared/control/metric-sources/http-json';
import { LocalMetricSource } from '../../shared/control/metric-sources/local';
import { LogAnalyticsMetricSource } from '../../shared/control/metric-sources/log-analytics';
import type { WindowQuery } from '../../shared/control/rollout-metrics';
import { metricFigures } from '../../shared/telemetry/metric-formats';
import {
  cloudWatchAnswer,
  type FakeApi,
  type RecordedRequest,
  startFakeApi,
} from '../fakes/metric-apis-fake';

const query: WindowQuery = {
  model: 'churn',
  stage: 'prod',
  primary: { variant: 'primary', version: 3 },
  canary: { variant: 'canary', version: 4 },
  start: new Date('2026-05-01T10:00:00.000Z'),
  end: new Date('2026-05-01T10:05:00.000Z'),
};

let fake: FakeApi | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

describe('CloudWatch GetMetricData source', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' };

  it('asks for each side’s sums and warm percentiles over one period and reads the answer', async () => {
    fake = await startFakeApi(
      cloudWatchAnswer({
        'primary/3/Requests/Sum': [5000, 4000],
        'primary/3/Errors/Sum': [50, 40],
        'primary/3/ClientErrors/Sum': [100, 0],
        'primary/3/ColdStart/Sum': [3, 0],
        'primary/3/WarmLatency/p50': [20],
        'primary/3/WarmLatency/p99': [80],
        'primary/3/WarmLatency/SampleCount': [8800],
        'canary/4/Requests/Sum': [1000],
        'canary/4/Errors/Sum': [30],
        'canary/4/ClientErrors/Sum': [10],
        'canary/4/ColdStart/Sum': [40],
        'canary/4/WarmLatency/p50': [25],
        'canary/4/WarmLatency/p99': [150],
        'canary/4/WarmLatency/SampleCount': [920],
        'canary/4/Feedback/Sum': [600],
        'canary/4/FeedbackCorrect/Sum': [510],
        'primary/3/Feedback/Sum': [4000],
        'primary/3/FeedbackCorrect/Sum': [3600],
      }),
    );
    const source = new CloudWatchMetricSource({ region: 'eu-west-1', credentials, endpoint: fake.endpoint });
    const window = await source.window(query);
    expect(window.canary).toEqual({
      requests: 1000,
      serverErrors: 30,
      clientErrors: 10,
      coldStarts: 40,
      warmLatency: { count: 920, p50: 25, p99: 150 },
      accuracy: { count: 600, correct: 510 },
    });
    expect(window.primary).toMatchObject({
      requests: 9000,
      serverErrors: 90,
      clientErrors: 100,
      coldStarts: 3,
    });
    const [request] = fake.requests as [RecordedRequest];
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request.headers['x-amz-security-token']).toBe('token');
    expect(request.headers.authorization).toMatch(
      /Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/monitoring\/aws4_request/,
    );
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({
      StartTime: 1_777_629_600,
      EndTime: 1_777_629_900,
      ScanBy: 'TimestampAscending',
    });
    const canaryRequests = body.MetricDataQueries.find((q: { Id: string }) => q.Id === 'c_requests');
    expect(canaryRequests).toEqual({
      Id: 'c_requests',
      ReturnData: true,
      MetricStat: {
        Period: 300,
        Stat: 'Sum',
        Metric: {
          Namespace: 'modelfleet',
          MetricName: 'Requests',
          Dimensions: [
            { Name: 'model', Value: 'churn' },
            { Name: 'variant', Value: 'canary' },
            { Name: 'version', Value: '4' },
            { Name: 'stage', Value: 'prod' },
          ],
        },
      },
    });
    expect(body.MetricDataQueries.map((q: { Id: string }) => q.Id)).toHaveLength(18);
  });

  it('leaves latency and accuracy out when CloudWatch has no datapoints, and names a failure', async () => {
    fake = await startFakeApi(cloudWatchAnswer({ 'canary/4/Requests/Sum': [10] }));
    const source = new CloudWatchMetricSource({ region: 'eu-west-1', credentials, endpoint: fake.endpoint });
    expect((await source.window(query)).canary).toEqual({
      requests: 10,
      serverErrors: 0,
      clientErrors: 0,
      coldStarts: 0,
    });
    const denied = await startFakeApi(() => ({ status: 403, body: { __type: 'AccessDeniedException' } }));
    const failing = new CloudWatchMetricSource({
      region: 'eu-west-1',
      credentials,
      endpoint: denied.endpoint,
    });
    await expect(failing.window(query)).rejects.toThrow(
      /CloudWatch GetMetricData answered 403: .*AccessDenied/,
    );
    await denied.close();
  });

  it('reads the figure the AWS functions emit for warm latency', () => {
    const event = {
      timestamp: '',
      requestId: '',
      stage: 's',
      route: 'infer',
      method: 'POST',
      status: 200,
      coldStart: false,
      latencyMs: 5,
    };
    expect(metricFigures(event).map((f) => f.name)).toContain(WARM_LATENCY_METRIC);
    expect(metricFigures({ ...event, coldStart: true }).map((f) => f.name)).not.toContain(
      WARM_LATENCY_METRIC,
    );
    expect(metricFigures({ ...event, status: 503 }).map((f) => f.name)).not.toContain(WARM_LATENCY_METRIC);
  });
});

describe('Cloud Monitoring timeSeries.list source', () => {
  it('sums log-based counters by status class and reads warm percentiles from the distribution', async () => {
    fake = await startFakeApi((request) => {
      if (request.headers.authorization !== 'Bearer gcp-token')
        return { status: 401, body: { error: { code: 401 } } };
      const filter = request.query.get('filter') ?? '';
      const canary = filter.includes('metric.label.variant="canary"');
      const metric = /metric\.type="logging\.googleapis\.com\/user\/modelfleet-eu_([a-z_]+)"/.exec(
        filter,
      )?.[1];
      if (metric === GCP_METRICS.requests) {
        const point = (value: number) => ({
          interval: { startTime: '2026-05-01T10:00:00Z', endTime: '2026-05-01T10:05:00Z' },
          value: { int64Value: String(value) },
        });
        const series = (status: string, cold: string, value: number) => ({
          metric: { type: metric, labels: { status_class: status, cold_start: cold } },
          resource: { type: 'cloud_function', labels: {} },
          metricKind: 'DELTA',
          valueType: 'INT64',
          points: [point(value)],
        });
        return {
          status: 200,
          body: {
            timeSeries: canary
              ? [
                  series('2', 'false', 900),
                  series('2', 'true', 50),
                  series('5', 'false', 30),
                  series('4', 'false', 20),
                ]
              : [series('2', 'false', 9000), series('5', 'false', 90)],
          },
        };
      }
      // One DISTRIBUTION series with one point per distribution given, as timeSeries.list answers.
      const distributions = (values: Record<string, unknown>[]) => ({
        status: 200,
        body: {
          timeSeries: [
            {
              metric: { type: metric },
              valueType: 'DISTRIBUTION',
              points: values.map((distributionValue) => ({ value: { distributionValue } })),
            },
          ],
        },
      });
      if (metric === GCP_METRICS.feedbackRows || metric === GCP_METRICS.feedbackCorrect) {
        // Two lines per side: 40 + 60 rows scored; correct 36 + 54 (canary), 39 + 59 (primary).
        const sums = metric === GCP_METRICS.feedbackRows ? [40, 60] : canary ? [36, 54] : [39, 59];
        return distributions(sums.map((sum) => ({ count: '1', mean: sum, bucketCounts: ['1'] })));
      }
      if (metric === GCP_METRICS.warmLatency) {
        // Exponential buckets: scale 1, growth 2 → [1,2) [2,4) ... ; 100 values.
        const counts = canary ? [0, 0, 0, 0, 0, 50, 48, 2] : [0, 0, 0, 0, 50, 49, 1, 0];
        return distributions([
          {
            count: '100',
            mean: 30,
            bucketOptions: { exponentialBuckets: { numFiniteBuckets: 20, growthFactor: 2, scale: 1 } },
            bucketCounts: counts.map(String),
          },
        ]);
      }
      return { status: 200, body: {} };
    });
    const source = new CloudMonitoringMetricSource({
      project: 'my-project',
      accessToken: async () => 'gcp-token',
      endpoint: fake.endpoint,
      // The stack's metric names follow its `name` variable (infra/gcp/monitoring.tf).
      metricPrefix: 'logging.googleapis.com/user/modelfleet-eu_',
    });
    const window = await source.window(query);
    expect(window.canary).toEqual({
      requests: 1000,
      serverErrors: 30,
      clientErrors: 20,
      coldStarts: 50,
      warmLatency: { count: 100, p50: 32, p99: 128 },
      accuracy: { count: 100, correct: 90 },
    });
    expect(window.primary).toMatchObject({
      requests: 9090,
      serverErrors: 90,
      warmLatency: { p50: 16, p99: 32 },
      accuracy: { count: 100, correct: 98 },
    });
    const requestsType = 'logging.googleapis.com/user/modelfleet-eu_requests';
    const asked = fake.requests.find(
      (r) => r.query.get('filter')?.includes(requestsType) && r.query.get('filter')?.includes('"canary"'),
    );
    expect(asked?.path).toBe('/v3/projects/my-project/timeSeries');
    expect(asked?.query.get('filter')).toBe(
      `metric.type="${requestsType}" AND metric.label.model="churn" AND metric.label.stage="prod" AND metric.label.variant="canary" AND metric.label.version="4"`,
    );
    expect(Object.fromEntries([...(asked?.query.entries() ?? [])].filter(([k]) => k !== 'filter'))).toEqual({
      'interval.startTime': '2026-05-01T10:00:00.000Z',
      'interval.endTime': '2026-05-01T10:05:00.000Z',
      'aggregation.alignmentPeriod': '300s',
      'aggregation.perSeriesAligner': 'ALIGN_DELTA',
      'aggregation.crossSeriesReducer': 'REDUCE_SUM',
      // The last of the repeated groupByFields (all of them are checked below).
      'aggregation.groupByFields': 'metric.label.cold_start',
    });
    expect(asked?.query.getAll('aggregation.groupByFields')).toEqual([
      'metric.label.status_class',
      'metric.label.cold_start',
    ]);
  });
});

describe('Log Analytics (KQL) source', () => {
  it('sends one KQL query over both variants and reads the PrimaryResult table', async () => {
    fake = await startFakeApi((request) => {
      if (request.headers.authorization !== 'Bearer az-token')
        return { status: 403, body: { error: { code: 'Forbidden' } } };
      const columns = [
        'variant',
        'version',
        'requests',
        'serverErrors',
        'clientErrors',
        'coldStarts',
        'warmCount',
        'p50',
        'p99',
        'feedback',
        'correct',
      ];
      return {
        status: 200,
        body: {
          tables: [
            {
              name: 'PrimaryResult',
              columns: columns.map((name) => ({ name, type: name.startsWith('v') ? 'string' : 'long' })),
              rows: [
                ['primary', '3', 9000, 90, 100, 2, 8800, 20.5, 80.1, 0, 0],
                ['canary', '4', 1000, 30, 10, 40, 920, 25, 150, 500, 430],
              ],
            },
          ],
        },
      };
    });
    const source = new LogAnalyticsMetricSource({
      workspaceId: 'ws-1',
      accessToken: async () => 'az-token',
      endpoint: fake.endpoint,
    });
    const window = await source.window(query);
    expect(window.canary).toEqual({
      requests: 1000,
      serverErrors: 30,
      clientErrors: 10,
      coldStarts: 40,
      warmLatency: { count: 920, p50: 25, p99: 150 },
      accuracy: { count: 500, correct: 430 },
    });
    expect(window.primary).toEqual({
      requests: 9000,
      serverErrors: 90,
      clientErrors: 100,
      coldStarts: 2,
      warmLatency: { count: 8800, p50: 20.5, p99: 80.1 },
    });
    const [request] = fake.requests as [RecordedRequest];
    expect(request.path).toBe('/v1/workspaces/ws-1/query');
    const body = JSON.parse(request.body) as { query: string; timespan: string };
    expect(body.timespan).toBe('2026-05-01T10:00:00.000Z/2026-05-01T10:05:00.000Z');
    expect(body.query).toContain('AppTraces\n| where TimeGenerated >= datetime(2026-05-01T10:00:00.000Z)');
    expect(body.query).toContain('where model == "churn" and stage == "prod"');
    expect(body.query).toContain(
      '(variant == "primary" and version == "3") or (variant == "canary" and version == "4")',
    );
    expect(body.query).toContain('p99 = percentile(warmMs, 99)');
    expect(body.query).toMatch(
      /warmMs = iff\(event == "modelfleet.request" and not\(cold\) and status < 400/,
    );
  });

  it('quotes names in KQL and refuses an answer without tables', async () => {
    fake = await startFakeApi(() => ({ status: 200, body: { tables: [] } }));
    const source = new LogAnalyticsMetricSource({
      workspaceId: 'ws',
      accessToken: async () => 't',
      endpoint: fake.endpoint,
    });
    expect(source.kql({ ...query, model: 'a"b' })).toContain('model == "a\\"b"');
    await expect(source.window(query)).rejects.toThrow(MetricQueryError);
  });
});

describe('local source', () => {
  it('replays the local server’s metric lines, skipping logs, cold starts and 4xx in latency', async () => {
    const line = (variant: string, version: number, status: number, coldStart: boolean, latencyMs: number) =>
      `{"type":"modelfleet.request",${JSON.stringify({ timestamp: '2026-05-01T10:01:00.000Z', requestId: 'r', stage: 'prod', route: 'infer', method: 'POST', status, model: 'churn', version, variant, coldStart, latencyMs }).slice(1)}`;
    const text = [
      '{"level":"info","message":"listening"}',
      'not json at all',
      line('canary', 4, 200, false, 10),
      line('canary', 4, 200, false, 30),
      line('canary', 4, 200, true, 900),
      line('canary', 4, 503, false, 1),
      line('canary', 4, 404, false, 1),
      '{"type":"modelfleet.feedback","timestamp":"2026-05-01T10:02:00.000Z","model":"churn","stage":"prod","variant":"canary","version":4,"correct":true}',
      line('primary', 3, 200, false, 20),
    ].join('\n');
    const window = await LocalMetricSource.fromJsonLines(text).window(query);
    expect(window.canary).toEqual({
      requests: 5,
      serverErrors: 1,
      clientErrors: 1,
      coldStarts: 1,
      warmLatency: { count: 2, p50: expect.closeTo(10, 0), p99: expect.closeTo(30, 0) },
      accuracy: { count: 1, correct: 1 },
    });
    expect(window.primary.requests).toBe(1);
    const outside = await LocalMetricSource.fromJsonLines(text).window({
      ...query,
      start: new Date('2026-05-01T10:01:30.000Z'),
    });
    expect(outside.canary.requests).toBe(0);
  });
});
