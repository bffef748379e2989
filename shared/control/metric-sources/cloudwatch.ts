import type { EvaluationWindow, MetricSource, VariantAggregate, WindowQuery } from '../rollout-metrics';
import { type AwsCredentials, MetricQueryError, requestJson, signAwsJsonPost } from './http-json';

/**
 * CloudWatch `GetMetricData` over the EMF figures the AWS functions write (shared/telemetry/
 * metric-formats.ts, namespace and names in infra/aws/metrics.json), dimensions model / variant /
 * version / stage. One call per window: for each side the sums of Requests, Errors, ClientErrors
 * and ColdStart, and WarmLatency's p50, p99 and sample count, each over one period spanning the
 * window. Spoken as AWS JSON 1.0 (the protocol CloudWatch serves besides Query), signed with SigV4.
 */
export interface CloudWatchOptions {
  region: string;
  credentials: AwsCredentials;
  namespace?: string;
  /** Default https://monitoring.<region>.amazonaws.com (AWS_ENDPOINT_URL_CLOUDWATCH overrides). */
  endpoint?: string;
  /** Feedback figures, when the monitoring side writes them: count and correct count (sums). */
  accuracyMetrics?: { count: string; correct: string };
}

const SUMS = {
  requests: 'Requests',
  serverErrors: 'Errors',
  clientErrors: 'ClientErrors',
  coldStarts: 'ColdStart',
};
export const WARM_LATENCY_METRIC = 'WarmLatency';
const DEFAULT_ACCURACY = { count: 'Feedback', correct: 'FeedbackCorrect' };

interface MetricDataResult {
  Id: string;
  Values?: number[];
  StatusCode?: string;
}

export class CloudWatchMetricSource implements MetricSource {
  readonly name = 'cloudwatch';
  private readonly endpoint: URL;

  constructor(private readonly options: CloudWatchOptions) {
    this.endpoint = new URL(options.endpoint ?? `https://monitoring.${options.region}.amazonaws.com/`);
  }

  /** The GetMetricData request for a window (exported for the tests that check it). */
  request(query: WindowQuery): Record<string, unknown> {
    const namespace = this.options.namespace ?? 'modelfleet';
    const seconds = Math.max(60, Math.ceil((query.end.getTime() - query.start.getTime()) / 60_000) * 60);
    const accuracy = this.options.accuracyMetrics ?? DEFAULT_ACCURACY;
    const queries: unknown[] = [];
    for (const [side, which] of [
      ['p', query.primary],
      ['c', query.canary],
    ] as const) {
      const metric = (name: string) => ({
        Namespace: namespace,
        MetricName: name,
        Dimensions: [
          { Name: 'model', Value: query.model },
          { Name: 'variant', Value: which.variant },
          { Name: 'version', Value: String(which.version) },
          { Name: 'stage', Value: query.stage },
        ],
      });
      const stat = (id: string, name: string, statistic: string) =>
        queries.push({
          Id: `${side}_${id}`,
          MetricStat: { Metric: metric(name), Period: seconds, Stat: statistic },
          ReturnData: true,
        });
      for (const [id, name] of Object.entries(SUMS)) stat(id, name, 'Sum');
      stat('warmP50', WARM_LATENCY_METRIC, 'p50');
      stat('warmP99', WARM_LATENCY_METRIC, 'p99');
      stat('warmCount', WARM_LATENCY_METRIC, 'SampleCount');
      stat('feedback', accuracy.count, 'Sum');
      stat('correct', accuracy.correct, 'Sum');
    }
    return {
      MetricDataQueries: queries,
      StartTime: Math.floor(query.start.getTime() / 1000),
      EndTime: Math.ceil(query.end.getTime() / 1000),
      ScanBy: 'TimestampAscending',
    };
  }

  async window(query: WindowQuery): Promise<EvaluationWindow> {
    const results = new Map<string, number[]>();
    let nextToken: string | undefined;
    do {
      const body = JSON.stringify({
        ...this.request(query),
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      });
      const headers = signAwsJsonPost({
        url: this.endpoint,
        body,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': 'GraniteServiceVersion20100801.GetMetricData',
        },
        service: 'monitoring',
        region: this.options.region,
        credentials: this.options.credentials,
        date: new Date(),
      });
      const answer = (await requestJson(
        this.endpoint,
        { method: 'POST', headers, body },
        'CloudWatch GetMetricData',
      )) as {
        MetricDataResults?: MetricDataResult[];
        NextToken?: string;
      };
      if (!Array.isArray(answer.MetricDataResults)) {
        throw new MetricQueryError('CloudWatch GetMetricData: the answer has no MetricDataResults');
      }
      for (const result of answer.MetricDataResults) {
        results.set(result.Id, [...(results.get(result.Id) ?? []), ...(result.Values ?? [])]);
      }
      nextToken = answer.NextToken;
    } while (nextToken !== undefined);
    return {
      start: query.start,
      end: query.end,
      primary: aggregateOf(results, 'p'),
      canary: aggregateOf(results, 'c'),
    };
  }
}

function aggregateOf(results: Map<string, number[]>, side: 'p' | 'c'): VariantAggregate {
  const values = (id: string) => results.get(`${side}_${id}`) ?? [];
  const sum = (id: string) => values(id).reduce((total, v) => total + v, 0);
  const aggregate: VariantAggregate = {
    requests: sum('requests'),
    serverErrors: sum('serverErrors'),
    clientErrors: sum('clientErrors'),
    coldStarts: sum('coldStarts'),
  };
  const count = sum('warmCount');
  // A window over two periods has two percentiles: the worse one stands for the window.
  if (count > 0 && values('warmP99').length > 0) {
    aggregate.warmLatency = {
      count,
      p50: Math.max(...values('warmP50')),
      p99: Math.max(...values('warmP99')),
    };
  }
  if (values('feedback').length > 0 && sum('feedback') > 0) {
    aggregate.accuracy = { count: sum('feedback'), correct: sum('correct') };
  }
  return aggregate;
}
