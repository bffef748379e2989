import type { RequestMetricEvent } from './metric-event';

/**
 * The metric events of this process as Prometheus counters and a latency histogram, for
 * `GET /metrics` (text exposition format 0.0.4). Labels are those of the cloud formats'
 * dimensions (model, variant, version; route for requests that reached no model), so a
 * cluster's dashboards and alerts read what CloudWatch, Cloud Monitoring and Azure Monitor read.
 */
export const LATENCY_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Series {
  labels: string;
  requests: number;
  /** By status class and error class, e.g. `4xx|invalid_input`. */
  errors: Map<string, number>;
  /** Per status class, every request. */
  byStatusClass: Map<string, number>;
  buckets: number[];
  sumSeconds: number;
}

const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export class PrometheusRegistry {
  private readonly series = new Map<string, Series>();

  /** Called with every request's metric event (a sink); never throws. */
  record(event: RequestMetricEvent): void {
    const series = this.seriesOf(event);
    const statusClass =
      STATUS_CLASSES[Math.floor(event.status / 100)] ?? `${Math.floor(event.status / 100)}xx`;
    series.requests += 1;
    series.byStatusClass.set(statusClass, (series.byStatusClass.get(statusClass) ?? 0) + 1);
    if (event.status >= 400) {
      const errorKey = `${statusClass}|${event.errorClass ?? 'unknown'}`;
      series.errors.set(errorKey, (series.errors.get(errorKey) ?? 0) + 1);
    }
    const seconds = event.latencyMs / 1000;
    series.sumSeconds += seconds;
    for (let at = 0; at < LATENCY_BUCKETS_SECONDS.length; at++) {
      if (seconds <= (LATENCY_BUCKETS_SECONDS[at] as number)) {
        series.buckets[at] = (series.buckets[at] ?? 0) + 1;
        break;
      }
    }
  }

  private last:
    | { event: Pick<RequestMetricEvent, 'route' | 'model' | 'variant' | 'version'>; series: Series }
    | undefined;

  /** The event's series; consecutive requests mostly share one, found again without building its key. */
  private seriesOf(event: RequestMetricEvent): Series {
    const last = this.last;
    if (
      last !== undefined &&
      last.event.route === event.route &&
      last.event.model === event.model &&
      last.event.variant === event.variant &&
      last.event.version === event.version
    ) {
      return last.series;
    }
    const key = `${event.route}\u0000${event.model ?? ''}\u0000${event.variant ?? ''}\u0000${event.version ?? ''}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = {
        labels: labelText(event),
        requests: 0,
        errors: new Map(),
        byStatusClass: new Map(),
        buckets: LATENCY_BUCKETS_SECONDS.map(() => 0),
        sumSeconds: 0,
      };
      this.series.set(key, series);
    }
    const { route, model, variant, version } = event;
    this.last = { event: { route, model, variant, version }, series };
    return series;
  }

  /** The exposition text: HELP and TYPE lines, then one line per series (histogram buckets cumulative). */
  render(): string {
    const lines: string[] = [
      '# HELP modelfleet_requests_total Requests answered, by status class.',
      '# TYPE modelfleet_requests_total counter',
    ];
    const all = [...this.series.values()];
    for (const s of all) {
      for (const [statusClass, count] of s.byStatusClass) {
        lines.push(`modelfleet_requests_total{${s.labels},status_class="${statusClass}"} ${count}`);
      }
    }
    lines.push(
      '# HELP modelfleet_request_errors_total Requests answered with a 4xx or 5xx, by status and error class.',
      '# TYPE modelfleet_request_errors_total counter',
    );
    for (const s of all) {
      for (const [errorKey, count] of s.errors) {
        const [statusClass, errorClass] = errorKey.split('|') as [string, string];
        lines.push(
          `modelfleet_request_errors_total{${s.labels},status_class="${statusClass}",error_class="${escapeLabel(errorClass)}"} ${count}`,
        );
      }
    }
    lines.push(
      '# HELP modelfleet_request_duration_seconds Time inside the server per request.',
      '# TYPE modelfleet_request_duration_seconds histogram',
    );
    for (const s of all) lines.push(...histogramLines(s));
    return `${lines.join('\n')}\n`;
  }
}

function histogramLines(s: Series): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
    cumulative += s.buckets[i] ?? 0;
    lines.push(`modelfleet_request_duration_seconds_bucket{${s.labels},le="${bound}"} ${cumulative}`);
  });
  lines.push(
    `modelfleet_request_duration_seconds_bucket{${s.labels},le="+Inf"} ${s.requests}`,
    `modelfleet_request_duration_seconds_sum{${s.labels}} ${s.sumSeconds}`,
    `modelfleet_request_duration_seconds_count{${s.labels}} ${s.requests}`,
  );
  return lines;
}

function labelText(event: RequestMetricEvent): string {
  return [
    `route="${escapeLabel(event.route)}"`,
    `model="${escapeLabel(event.model ?? '')}"`,
    `variant="${escapeLabel(event.variant ?? '')}"`,
    `version="${event.version ?? ''}"`,
  ].join(',');
}

/** Label values escape backslash, double quote and line feed (the exposition format's rule). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
