import type {
  EvaluationWindow,
  LatencySummary,
  MetricSource,
  VariantAggregate,
  WindowQuery,
} from '../rollout-metrics';
import { MetricQueryError, requestJson } from './http-json';

/**
 * Google Cloud Monitoring `projects.timeSeries.list` over log-based metrics of the GCP functions'
 * request lines (shared/telemetry/metric-formats.ts `toCloudLoggingEntry`). infra/gcp/monitoring.tf
 * defines them, named `<name>_<metric>` (the guard reads the prefix from GUARD_METRIC_PREFIX):
 *   requests          counter, labels model, variant, version, stage, status_class (2/4/5), cold_start
 *   warm_latency      distribution of warmLatencyMs (warm requests that succeeded), same first labels
 *   feedback_rows     distribution of feedbackRows (rows of feedback scored on that line)
 *   feedback_correct  distribution of feedbackCorrect
 * A log-based counter counts lines, not the numbers on them, so the feedback figures are
 * distributions whose sum (mean x count) is the total. Each is summed over one alignment period
 * spanning the window (ALIGN_DELTA, REDUCE_SUM).
 */
export const GCP_METRICS = {
  requests: 'requests',
  warmLatency: 'warm_latency',
  feedbackRows: 'feedback_rows',
  feedbackCorrect: 'feedback_correct',
};

/** What the GCP stack's default name (`modelfleet`) gives; GUARD_METRIC_PREFIX overrides it. */
export const DEFAULT_GCP_METRIC_PREFIX = 'logging.googleapis.com/user/modelfleet_';

export interface CloudMonitoringOptions {
  project: string;
  /** A bearer token for monitoring.read (the function's service account, from the metadata server). */
  accessToken: () => Promise<string>;
  /** Default https://monitoring.googleapis.com/ */
  endpoint?: string;
  /** The log-based metrics' type up to the metric's own name; default DEFAULT_GCP_METRIC_PREFIX. */
  metricPrefix?: string;
}

interface TimeSeries {
  metric?: { labels?: Record<string, string> };
  points?: {
    value?: { int64Value?: string | number; doubleValue?: number; distributionValue?: Distribution };
  }[];
}

interface Distribution {
  count?: string | number;
  mean?: number;
  bucketOptions?: {
    exponentialBuckets?: { numFiniteBuckets: number; growthFactor: number; scale: number };
    linearBuckets?: { numFiniteBuckets: number; width: number; offset: number };
    explicitBuckets?: { bounds: number[] };
  };
  bucketCounts?: (string | number)[];
}

export class CloudMonitoringMetricSource implements MetricSource {
  readonly name = 'cloud-monitoring';

  constructor(private readonly options: CloudMonitoringOptions) {}

  /** The timeSeries.list URL for one metric of one side (exported for the tests that check it). */
  url(
    query: WindowQuery,
    side: 'primary' | 'canary',
    metric: keyof typeof GCP_METRICS,
    groupBy: string[],
  ): URL {
    const which = query[side];
    const url = new URL(
      `v3/projects/${encodeURIComponent(this.options.project)}/timeSeries`,
      this.options.endpoint ?? 'https://monitoring.googleapis.com/',
    );
    const seconds = Math.max(60, Math.ceil((query.end.getTime() - query.start.getTime()) / 1000));
    url.searchParams.set(
      'filter',
      [
        `metric.type="${this.metricType(metric)}"`,
        `metric.label.model="${query.model}"`,
        `metric.label.stage="${query.stage}"`,
        `metric.label.variant="${which.variant}"`,
        `metric.label.version="${which.version}"`,
      ].join(' AND '),
    );
    url.searchParams.set('interval.startTime', query.start.toISOString());
    url.searchParams.set('interval.endTime', query.end.toISOString());
    url.searchParams.set('aggregation.alignmentPeriod', `${seconds}s`);
    url.searchParams.set('aggregation.perSeriesAligner', 'ALIGN_DELTA');
    url.searchParams.set('aggregation.crossSeriesReducer', 'REDUCE_SUM');
    for (const field of groupBy)
      url.searchParams.append('aggregation.groupByFields', `metric.label.${field}`);
    return url;
  }

  metricType(metric: keyof typeof GCP_METRICS): string {
    return (this.options.metricPrefix ?? DEFAULT_GCP_METRIC_PREFIX) + GCP_METRICS[metric];
  }

  async window(query: WindowQuery): Promise<EvaluationWindow> {
    const [primary, canary] = await Promise.all([this.side(query, 'primary'), this.side(query, 'canary')]);
    return { start: query.start, end: query.end, primary, canary };
  }

  private async side(query: WindowQuery, side: 'primary' | 'canary'): Promise<VariantAggregate> {
    const [requests, latency, feedbackRows, feedbackCorrect] = await Promise.all([
      this.list(this.url(query, side, 'requests', ['status_class', 'cold_start'])),
      this.list(this.url(query, side, 'warmLatency', [])),
      this.list(this.url(query, side, 'feedbackRows', [])),
      this.list(this.url(query, side, 'feedbackCorrect', [])),
    ]);
    const aggregate: VariantAggregate = { requests: 0, serverErrors: 0, clientErrors: 0, coldStarts: 0 };
    for (const series of requests) {
      const count = sumPoints(series);
      const labels = series.metric?.labels ?? {};
      aggregate.requests += count;
      if (labels['status_class'] === '5') aggregate.serverErrors += count;
      if (labels['status_class'] === '4') aggregate.clientErrors += count;
      if (labels['cold_start'] === 'true') aggregate.coldStarts += count;
    }
    const warm = summarizeDistributions(
      latency.flatMap((s) => (s.points ?? []).map((p) => p.value?.distributionValue)),
    );
    if (warm !== undefined) aggregate.warmLatency = warm;
    const rows = Math.round(sumDistributions(feedbackRows));
    if (rows > 0)
      aggregate.accuracy = { count: rows, correct: Math.round(sumDistributions(feedbackCorrect)) };
    return aggregate;
  }

  private async list(url: URL): Promise<TimeSeries[]> {
    const series: TimeSeries[] = [];
    let pageToken = '';
    do {
      if (pageToken !== '') url.searchParams.set('pageToken', pageToken);
      const answer = (await requestJson(
        url,
        { method: 'GET', headers: { authorization: `Bearer ${await this.options.accessToken()}` } },
        'Cloud Monitoring timeSeries.list',
      )) as { timeSeries?: TimeSeries[]; nextPageToken?: string };
      if (typeof answer !== 'object' || answer === null)
        throw new MetricQueryError('Cloud Monitoring: not an object');
      series.push(...(answer.timeSeries ?? []));
      pageToken = answer.nextPageToken ?? '';
    } while (pageToken !== '');
    return series;
  }
}

function sumPoints(series: TimeSeries): number {
  return (series.points ?? []).reduce(
    (sum, p) => sum + Number(p.value?.int64Value ?? p.value?.doubleValue ?? 0),
    0,
  );
}

/** The total of the values a distribution metric recorded: mean x count, over every point. */
function sumDistributions(series: TimeSeries[]): number {
  let total = 0;
  for (const one of series) {
    for (const point of one.points ?? []) {
      const value = point.value?.distributionValue;
      total += Number(value?.count ?? 0) * Number(value?.mean ?? 0);
    }
  }
  return total;
}

/** Bucket i's [lower, upper) bounds for the three bucket layouts of a Cloud Monitoring distribution. */
function bucketBounds(options: NonNullable<Distribution['bucketOptions']>, i: number): [number, number] {
  if (options.exponentialBuckets !== undefined) {
    const { scale, growthFactor: g, numFiniteBuckets: n } = options.exponentialBuckets;
    if (i === 0) return [0, scale];
    return [scale * g ** (i - 1), i > n ? Number.POSITIVE_INFINITY : scale * g ** i];
  }
  if (options.linearBuckets !== undefined) {
    const { offset, width, numFiniteBuckets: n } = options.linearBuckets;
    if (i === 0) return [Number.NEGATIVE_INFINITY, offset];
    return [offset + width * (i - 1), i > n ? Number.POSITIVE_INFINITY : offset + width * i];
  }
  const bounds = options.explicitBuckets?.bounds ?? [];
  return [bounds[i - 1] ?? Number.NEGATIVE_INFINITY, bounds[i] ?? Number.POSITIVE_INFINITY];
}

/**
 * Merges distributions (same bucket layout) and reads p50/p99 as the upper bound of the bucket
 * holding that rank: with the 1.1-1.2 growth factors usual for latency this is within 10-20%,
 * and both variants are read the same way, so their ratio is fair.
 */
export function summarizeDistributions(values: (Distribution | undefined)[]): LatencySummary | undefined {
  const present = values.filter((v): v is Distribution => v !== undefined && Number(v.count ?? 0) > 0);
  const options = present[0]?.bucketOptions;
  if (options === undefined) return undefined;
  const counts: number[] = [];
  for (const value of present) {
    (value.bucketCounts ?? []).forEach((c, i) => {
      counts[i] = (counts[i] ?? 0) + Number(c);
    });
  }
  const count = counts.reduce((a, b) => a + b, 0);
  if (count === 0) return undefined;
  const rank = (p: number) => {
    const wanted = Math.max(1, Math.ceil(p * count));
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i] ?? 0;
      if (seen >= wanted) {
        const [lower, upper] = bucketBounds(options, i);
        return Number.isFinite(upper) ? upper : lower;
      }
    }
    return 0;
  };
  return { count, p50: rank(0.5), p99: rank(0.99) };
}
