import { readFileSync } from 'node:fs';
import type { RequestMetricEvent } from '../../telemetry/metric-event';
import type {
  EvaluationWindow,
  LatencySummary,
  MetricSource,
  VariantAggregate,
  WindowQuery,
} from '../rollout-metrics';

/** A label for one request (from feedback): was the served prediction right? */
export interface FeedbackEvent {
  timestamp: string;
  model: string;
  stage: string;
  variant: string;
  version: number;
  correct: boolean;
}

interface Bucket {
  requests: number;
  serverErrors: number;
  clientErrors: number;
  coldStarts: number;
  /** Warm latency histogram: log-spaced bin index → count (see `latencyBin`). */
  warm: Map<number, number>;
  feedback: number;
  correct: number;
}

const BUCKET_MS = 1000;
/**
 * Latency bins grow by 1% (the DDSketch idea): any percentile read back is within 0.5% of an
 * observed value, memory is bounded by the range of latencies rather than the number of requests,
 * and windows merge by adding counts.
 */
const GAMMA = 1.01;
const LOG_GAMMA = Math.log(GAMMA);
const latencyBin = (ms: number) => Math.ceil(Math.log(Math.max(ms, 0.001)) / LOG_GAMMA);
const binValue = (bin: number) => (2 * GAMMA ** bin) / (GAMMA + 1);

/**
 * Per-variant counters in one-second buckets, fed with the neutral request events (the local
 * server's metric sink, or its JSON lines replayed). Windows merge the buckets they cover, so a
 * guard asking every few seconds costs the number of buckets, not the number of requests.
 * Buckets older than `retentionMs` are dropped as new events arrive.
 */
export class MetricAggregator {
  /** One series per model/stage/variant/version, each a map of bucket start → bucket. */
  private readonly series = new Map<string, Map<number, Bucket>>();
  // The last few series looked up, without building their key (the hot path of `record`).
  private recent: {
    model: string;
    stage: string;
    variant: string;
    version: number;
    buckets: Map<number, Bucket>;
  }[] = [];
  private newest = 0;
  // Events of one second share their timestamp's text: parse each text once.
  private readonly parsed = new Map<string, number>();

  constructor(private readonly retentionMs = 6 * 3600 * 1000) {}

  record(event: RequestMetricEvent): void {
    if (event.model === undefined || event.variant === undefined || event.version === undefined) return;
    const bucket = this.bucket(event.model, event.stage, event.variant, event.version, event.timestamp);
    bucket.requests += 1;
    if (event.status >= 500) bucket.serverErrors += 1;
    else if (event.status >= 400) bucket.clientErrors += 1;
    if (event.coldStart) bucket.coldStarts += 1;
    else if (event.status < 400) {
      const bin = latencyBin(event.latencyMs);
      bucket.warm.set(bin, (bucket.warm.get(bin) ?? 0) + 1);
    }
  }

  recordFeedback(event: FeedbackEvent): void {
    const bucket = this.bucket(event.model, event.stage, event.variant, event.version, event.timestamp);
    bucket.feedback += 1;
    if (event.correct) bucket.correct += 1;
  }

  aggregate(
    model: string,
    stage: string,
    variant: string,
    version: number,
    start: Date,
    end: Date,
  ): VariantAggregate {
    const total: VariantAggregate = { requests: 0, serverErrors: 0, clientErrors: 0, coldStarts: 0 };
    const latencies = new Map<number, number>();
    let feedback = 0;
    let correct = 0;
    const from = start.getTime();
    const to = end.getTime();
    for (const [at, bucket] of this.series.get(key(model, stage, variant, version)) ?? []) {
      // Only whole seconds from the window's start: the second a step began in also holds the
      // previous step's requests, which must not count for the new one.
      if (at < from || at >= to) continue;
      total.requests += bucket.requests;
      total.serverErrors += bucket.serverErrors;
      total.clientErrors += bucket.clientErrors;
      total.coldStarts += bucket.coldStarts;
      for (const [bin, count] of bucket.warm) latencies.set(bin, (latencies.get(bin) ?? 0) + count);
      feedback += bucket.feedback;
      correct += bucket.correct;
    }
    const warm = summarizeHistogram(latencies);
    return {
      ...total,
      ...(warm === undefined ? {} : { warmLatency: warm }),
      ...(feedback === 0 ? {} : { accuracy: { count: feedback, correct } }),
    };
  }

  private bucket(model: string, stage: string, variant: string, version: number, timestamp: string): Bucket {
    let at = this.parsed.get(timestamp);
    if (at === undefined) {
      if (this.parsed.size > 4096) this.parsed.clear();
      at = Math.floor(Date.parse(timestamp) / BUCKET_MS) * BUCKET_MS;
      this.parsed.set(timestamp, at);
    }
    let buckets = this.recent.find(
      (r) => r.model === model && r.stage === stage && r.variant === variant && r.version === version,
    )?.buckets;
    const id = buckets === undefined ? key(model, stage, variant, version) : '';
    if (buckets === undefined) {
      buckets = this.series.get(id);
      if (buckets !== undefined)
        this.recent = [{ model, stage, variant, version, buckets }, ...this.recent.slice(0, 3)];
    }
    if (buckets === undefined) {
      buckets = new Map();
      this.series.set(id, buckets);
      this.recent = [{ model, stage, variant, version, buckets }, ...this.recent.slice(0, 3)];
    }
    let bucket = buckets.get(at);
    if (bucket === undefined) {
      bucket = {
        requests: 0,
        serverErrors: 0,
        clientErrors: 0,
        coldStarts: 0,
        warm: new Map(),
        feedback: 0,
        correct: 0,
      };
      buckets.set(at, bucket);
      if (at > this.newest) {
        this.newest = at;
        this.prune(at - this.retentionMs);
      }
    }
    return bucket;
  }

  private prune(before: number): void {
    for (const buckets of this.series.values()) {
      for (const at of buckets.keys()) if (at < before) buckets.delete(at);
    }
  }
}

function key(model: string, stage: string, variant: string, version: number): string {
  return `${model}\u0000${stage}\u0000${variant}\u0000${version}`;
}

/** Nearest-rank percentiles over the histogram (what CloudWatch and KQL's percentile() estimate). */
export function summarizeHistogram(bins: Map<number, number>): LatencySummary | undefined {
  let count = 0;
  for (const n of bins.values()) count += n;
  if (count === 0) return undefined;
  const sorted = [...bins.keys()].sort((a, b) => a - b);
  const rank = (p: number) => {
    const wanted = Math.max(1, Math.ceil(p * count));
    let seen = 0;
    for (const bin of sorted) {
      seen += bins.get(bin) ?? 0;
      if (seen >= wanted) return binValue(bin);
    }
    return binValue(sorted.at(-1) ?? 0);
  };
  return { count, p50: rank(0.5), p99: rank(0.99) };
}

/** The local platform's source: an aggregator the local server (or the demo) feeds in process. */
export class LocalMetricSource implements MetricSource {
  readonly name = 'local';

  constructor(readonly aggregator: MetricAggregator = new MetricAggregator()) {}

  /**
   * Replays the local server's stdout (`npm start > metrics.jsonl`): `modelfleet.request` lines,
   * and `modelfleet.feedback` lines ({model, stage, variant, version, timestamp, correct}).
   * Other lines (logs, anything not JSON) are skipped.
   */
  static fromJsonLines(text: string): LocalMetricSource {
    const source = new LocalMetricSource();
    for (const line of text.split('\n')) {
      if (!line.startsWith('{"type":"modelfleet.')) continue;
      let parsed: { type?: unknown } & Record<string, unknown>;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      if (parsed.type === 'modelfleet.request')
        source.aggregator.record(parsed as unknown as RequestMetricEvent);
      if (parsed.type === 'modelfleet.feedback' && typeof parsed['correct'] === 'boolean') {
        source.aggregator.recordFeedback(parsed as unknown as FeedbackEvent);
      }
    }
    return source;
  }

  static fromFile(file: string): LocalMetricSource {
    return LocalMetricSource.fromJsonLines(readFileSync(file, 'utf8'));
  }

  async window(query: WindowQuery): Promise<EvaluationWindow> {
    const side = (which: { variant: string; version: number }) =>
      this.aggregator.aggregate(
        query.model,
        query.stage,
        which.variant,
        which.version,
        query.start,
        query.end,
      );
    return { start: query.start, end: query.end, primary: side(query.primary), canary: side(query.canary) };
  }
}
