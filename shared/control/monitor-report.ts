/**
 * Monitoring reports: capture and feedback records read back from the store and summarised per
 * variant (traffic, errors, latency, accuracy or MAE/RMSE, PSI per feature) and over time. Shared by
 * `modelfleet monitor` and the `/dashboard` page.
 */
import {
  CAPTURE_DIR,
  FEEDBACK_DIR,
  RECORD_BATCH_SUFFIX,
  type RecordStream,
  recordHourPrefixes,
} from '../repository/layout';
import type { ModelRepository } from '../repository/repository';
import { joinKey } from '../store/types';
import {
  type CaptureRecord,
  type DriftRecord,
  decodeBatch,
  type FeedbackRecord,
  type RequestRecord,
} from '../telemetry/capture';
import { driftedFeatures } from '../telemetry/drift';
import { qualityByVariant, type VariantQuality } from '../telemetry/quality';

export interface VariantReport {
  variant: string;
  version: number;
  /** Captured requests (a sample of the traffic at the model's capture rate). */
  requests: number;
  share: number;
  errors: number;
  errorRate: number;
  latencyMs: { p50: number; p99: number; mean: number };
  quality?: VariantQuality;
  /** Mean PSI per feature over the window's drift snapshots, most drifted first. */
  psi: { feature: string; psi: number }[];
  predictionPsi?: number;
  drifted: string[];
}

export interface SeriesPoint {
  /** Start of the bucket, ISO. */
  at: string;
  requests: number;
  share: number;
  errorRate: number;
  p50: number;
  p99: number;
  accuracy?: number;
  mae?: number;
  psiMax?: number;
}

export interface MonitorReport {
  model: string;
  stage: string;
  since: string;
  until: string;
  psiThreshold: number;
  variants: VariantReport[];
  /** Per variant (`name v<version>`), one point per bucket with data. */
  series: Record<string, SeriesPoint[]>;
  /** Rollout steps and verdicts of the stage's deployment inside the window. */
  rollout: { at: string; action: string; variants: string; reason?: string }[];
}

export interface ReportOptions {
  stage: string;
  since: Date;
  until?: Date;
  psiThreshold?: number;
  /** Width of a series bucket; defaults to a sixtieth of the window, at least a minute. */
  bucketMs?: number;
}

/** Records of one stream between two times (batches are dated by their first record: one extra hour). */
export async function readRecords<T extends { time: string }>(
  repository: ModelRepository,
  model: string,
  stream: RecordStream,
  stage: string,
  since: Date,
  until: Date,
): Promise<T[]> {
  const from = new Date(since.getTime() - 3_600_000);
  const hours = recordHourPrefixes(model, stream, stage, from, until);
  const perHour = await Promise.all(
    hours.map(async (prefix) => {
      const names = (await repository.store.list(prefix)).filter((name) =>
        name.endsWith(RECORD_BATCH_SUFFIX),
      );
      const batches = await Promise.all(
        names.map(async (name) => {
          const result = await repository.store.get(joinKey(prefix, name));
          return result.status === 'ok' ? (decodeBatch(result.body) as T[]) : [];
        }),
      );
      return batches.flat();
    }),
  );
  const lo = since.toISOString();
  const hi = until.toISOString();
  return perHour.flat().filter((record) => record.time >= lo && record.time <= hi);
}

export async function buildReport(
  repository: ModelRepository,
  model: string,
  options: ReportOptions,
): Promise<MonitorReport> {
  const until = options.until ?? new Date();
  const { stage, since } = options;
  const [captures, feedback, deployment] = await Promise.all([
    readRecords<CaptureRecord>(repository, model, CAPTURE_DIR, stage, since, until),
    readRecords<FeedbackRecord>(repository, model, FEEDBACK_DIR, stage, since, until),
    repository.readDeployment(model, stage).catch(() => undefined),
  ]);
  const threshold = options.psiThreshold ?? 0.2;
  const requests = captures.filter((r): r is RequestRecord => r.kind === 'request');
  const drifts = captures.filter((r): r is DriftRecord => r.kind === 'drift');
  const quality = qualityByVariant(captures, feedback);
  const groups = groupBy(requests, variantKey);
  const variants = [...groups.entries()].map(([key, records]) =>
    variantReport(
      records,
      requests.length,
      quality.find((q) => variantKey(q) === key),
      drifts.filter((d) => variantKey(d) === key),
      threshold,
    ),
  );
  variants.sort((a, b) => b.requests - a.requests);
  const bucketMs =
    options.bucketMs ??
    Math.max(60_000, Math.ceil((until.getTime() - since.getTime()) / 60 / 60_000) * 60_000);
  const history =
    deployment !== undefined && 'config' in deployment ? (deployment.config?.history ?? []) : [];
  return {
    model,
    stage,
    since: since.toISOString(),
    until: until.toISOString(),
    psiThreshold: threshold,
    variants,
    series: series(requests, drifts, feedback, since, bucketMs),
    rollout: history
      .filter((entry) => entry.at >= since.toISOString() && entry.at <= until.toISOString())
      .map((entry) => ({
        at: entry.at,
        action: entry.action,
        variants: entry.variants.map((v) => `${v.name} v${v.version} ${v.weight}%`).join(', '),
        ...(entry.reason === undefined ? {} : { reason: entry.reason }),
      })),
  };
}

function variantKey(record: { variant: string; version: number }): string {
  return `${record.variant} v${record.version}`;
}

function variantReport(
  records: RequestRecord[],
  total: number,
  quality: VariantQuality | undefined,
  drifts: DriftRecord[],
  threshold: number,
): VariantReport {
  const first = records[0] as RequestRecord;
  const errors = records.filter((r) => r.status >= 500).length;
  const latencies = records.map((r) => r.latencyMs).sort((a, b) => a - b);
  const meanPsi: Record<string, number> = {};
  for (const drift of drifts) {
    for (const [feature, value] of Object.entries(drift.psi)) {
      meanPsi[feature] = (meanPsi[feature] ?? 0) + value / drifts.length;
    }
  }
  const predictionPsis = drifts.flatMap((d) => (d.predictionPsi === undefined ? [] : [d.predictionPsi]));
  return {
    variant: first.variant,
    version: first.version,
    requests: records.length,
    share: total === 0 ? 0 : records.length / total,
    errors,
    errorRate: records.length === 0 ? 0 : errors / records.length,
    latencyMs: {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      mean: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    },
    ...(quality === undefined ? {} : { quality }),
    psi: Object.entries(meanPsi)
      .map(([feature, psi]) => ({ feature, psi: round(psi) }))
      .sort((a, b) => b.psi - a.psi),
    ...(predictionPsis.length === 0
      ? {}
      : { predictionPsi: round(predictionPsis.reduce((a, b) => a + b, 0) / predictionPsis.length) }),
    drifted: driftedFeatures(meanPsi, threshold),
  };
}

function series(
  requests: RequestRecord[],
  drifts: DriftRecord[],
  feedback: FeedbackRecord[],
  since: Date,
  bucketMs: number,
): Record<string, SeriesPoint[]> {
  const bucketOf = (time: string) => Math.floor((Date.parse(time) - since.getTime()) / bucketMs);
  const totals = new Map<number, number>();
  for (const r of requests) totals.set(bucketOf(r.time), (totals.get(bucketOf(r.time)) ?? 0) + 1);
  const out: Record<string, SeriesPoint[]> = {};
  for (const [key, records] of groupBy(requests, variantKey)) {
    const buckets = groupBy(records, (r) => String(bucketOf(r.time)));
    const variantDrifts = drifts.filter((d) => variantKey(d) === key);
    out[key] = [...buckets.entries()]
      .map(([bucketText, inBucket]) => {
        const bucket = Number(bucketText);
        const latencies = inBucket.map((r) => r.latencyMs).sort((a, b) => a - b);
        const [quality] = qualityByVariant(inBucket, feedback);
        const psis = variantDrifts
          .filter((d) => bucketOf(d.time) === bucket)
          .map((d) => Math.max(0, ...Object.values(d.psi)));
        const point: SeriesPoint = {
          at: new Date(since.getTime() + bucket * bucketMs).toISOString(),
          requests: inBucket.length,
          share: inBucket.length / (totals.get(bucket) ?? inBucket.length),
          errorRate: inBucket.filter((r) => r.status >= 500).length / inBucket.length,
          p50: quantile(latencies, 0.5),
          p99: quantile(latencies, 0.99),
        };
        if (quality?.accuracy !== undefined) point.accuracy = round(quality.accuracy);
        if (quality?.mae !== undefined) point.mae = round(quality.mae);
        if (psis.length > 0) point.psiMax = round(Math.max(...psis));
        return point;
      })
      .sort((a, b) => a.at.localeCompare(b.at));
  }
  return out;
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** `24h`, `30m`, `7d` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)$/.exec(text.trim());
  if (match === null) return undefined;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
