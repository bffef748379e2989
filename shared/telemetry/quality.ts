/**
 * How right a model is: its captured predictions joined with the ground truth clients send back
 * (`POST /v2/models/{m}/feedback`) by request id. Pure, no I/O: serving scores the feedback it can
 * join in memory, and reports (`modelfleet monitor`, the dashboard, the rollout guard) score what
 * they read from the store with the same functions.
 */
import type { CapturedTensor, CaptureRecord, FeedbackRecord, RequestRecord } from './capture';

/** Class labels (classifiers) or values (regressors), one per row. */
export type Prediction = { kind: 'class'; values: string[] } | { kind: 'value'; values: number[] };

const LABEL_TYPES = /^(BOOL|U?INT(8|16|32|64)|BYTES)$/;
const FLOAT_TYPES = /^FP(16|32|64)$/;

/**
 * What a model predicted, read like the shadow comparison does: an integer (or string) output is a
 * class label; else a float output whose last axis has several entries holds class scores (arg-max);
 * else the first float output is a regression value.
 */
export function predictionOf(outputs: readonly Pick<CapturedTensor, 'datatype' | 'shape' | 'data'>[]) {
  const labels = outputs.find((o) => LABEL_TYPES.test(o.datatype));
  if (labels !== undefined) return { kind: 'class', values: labels.data.map(String) } as Prediction;
  const floats = outputs.find((o) => FLOAT_TYPES.test(o.datatype));
  if (floats === undefined) return undefined;
  const width = floats.shape.length >= 2 ? (floats.shape.at(-1) ?? 1) : 1;
  if (width <= 1) return { kind: 'value', values: floats.data.map(Number) } as Prediction;
  const values: string[] = [];
  for (let start = 0; start + width <= floats.data.length; start += width) {
    let best = 0;
    for (let i = 1; i < width; i++)
      if (Number(floats.data[start + i]) > Number(floats.data[start + best])) best = i;
    values.push(String(best));
  }
  return { kind: 'class', values } as Prediction;
}

/** Sums that add up across requests, instances and time. */
export interface QualityTally {
  kind: 'classification' | 'regression';
  rows: number;
  /** Classification: rows whose predicted class equals the label. */
  correct: number;
  /** Regression: sums of |error| and error². */
  absError: number;
  squaredError: number;
}

/** Scores one feedback record against the outputs captured for its request; undefined if they do not fit. */
export function scoreFeedback(
  outputs: readonly CapturedTensor[],
  feedback: Pick<FeedbackRecord, 'label' | 'value' | 'outputs'>,
): QualityTally | undefined {
  if (feedback.outputs !== undefined) {
    for (const expected of feedback.outputs) {
      const captured = outputs.find((o) => o.name === expected.name);
      if (captured === undefined || captured.data.length !== expected.data.length) continue;
      if (LABEL_TYPES.test(captured.datatype)) {
        return classTally(captured.data.map(String), expected.data);
      }
      return valueTally(captured.data.map(Number), expected.data.map(Number));
    }
    return undefined;
  }
  const prediction = predictionOf(outputs);
  if (prediction === undefined) return undefined;
  if (feedback.label !== undefined && prediction.kind === 'class') {
    const labels = Array.isArray(feedback.label) ? feedback.label : [feedback.label];
    return labels.length === prediction.values.length ? classTally(prediction.values, labels) : undefined;
  }
  if (feedback.value !== undefined && prediction.kind === 'value') {
    const values = Array.isArray(feedback.value) ? feedback.value : [feedback.value];
    return values.length === prediction.values.length ? valueTally(prediction.values, values) : undefined;
  }
  return undefined;
}

function classTally(predicted: readonly string[], truth: readonly unknown[]): QualityTally {
  let correct = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === String(truth[i])) correct++;
  return { kind: 'classification', rows: predicted.length, correct, absError: 0, squaredError: 0 };
}

function valueTally(predicted: readonly number[], truth: readonly number[]): QualityTally {
  let absError = 0;
  let squaredError = 0;
  for (let i = 0; i < predicted.length; i++) {
    const error = (predicted[i] as number) - (truth[i] as number);
    absError += Math.abs(error);
    squaredError += error * error;
  }
  return { kind: 'regression', rows: predicted.length, correct: 0, absError, squaredError };
}

export function addTally(into: QualityTally | undefined, tally: QualityTally): QualityTally {
  if (into === undefined) return { ...tally };
  into.rows += tally.rows;
  into.correct += tally.correct;
  into.absError += tally.absError;
  into.squaredError += tally.squaredError;
  return into;
}

/** The per-variant figure the rollout guard and the alarms compare. */
export interface VariantQuality {
  model: string;
  variant: string;
  version: number;
  kind: 'classification' | 'regression';
  /** Feedback records that found their captured request. */
  joined: number;
  rows: number;
  accuracy?: number;
  mae?: number;
  rmse?: number;
}

export function qualityOf(
  tally: QualityTally,
): Pick<VariantQuality, 'kind' | 'rows' | 'accuracy' | 'mae' | 'rmse'> {
  if (tally.kind === 'classification') {
    return {
      kind: tally.kind,
      rows: tally.rows,
      accuracy: tally.rows === 0 ? 0 : tally.correct / tally.rows,
    };
  }
  return {
    kind: tally.kind,
    rows: tally.rows,
    mae: tally.rows === 0 ? 0 : tally.absError / tally.rows,
    rmse: tally.rows === 0 ? 0 : Math.sqrt(tally.squaredError / tally.rows),
  };
}

/**
 * Accuracy (classifiers) or MAE/RMSE (regressors) per model version and variant, from capture and
 * feedback records as read from the store. Feedback without a captured request (not sampled, or
 * older than the capture read) is ignored; the latest feedback for an id wins.
 */
export function qualityByVariant(
  captures: Iterable<CaptureRecord>,
  feedback: Iterable<FeedbackRecord>,
): VariantQuality[] {
  const requests = new Map<string, RequestRecord>();
  for (const record of captures) {
    if (record.kind === 'request' && record.outputs !== undefined) requests.set(record.id, record);
  }
  const latest = new Map<string, FeedbackRecord>();
  for (const record of feedback) {
    const seen = latest.get(record.id);
    if (seen === undefined || seen.time <= record.time) latest.set(record.id, record);
  }
  const tallies = new Map<string, { request: RequestRecord; tally: QualityTally; joined: number }>();
  for (const record of latest.values()) {
    const request = requests.get(record.id);
    if (request?.outputs === undefined) continue;
    const tally = scoreFeedback(request.outputs, record);
    if (tally === undefined) continue;
    const key = `${request.model}\u0000${request.version}\u0000${request.variant}`;
    const entry = tallies.get(key);
    if (entry === undefined) tallies.set(key, { request, tally: { ...tally }, joined: 1 });
    else {
      addTally(entry.tally, tally);
      entry.joined++;
    }
  }
  return [...tallies.values()].map(({ request, tally, joined }) => ({
    model: request.model,
    variant: request.variant,
    version: request.version,
    joined,
    ...qualityOf(tally),
  }));
}

/** For the rollout guard: accuracy per variant name, classifiers only. */
export function accuracyByVariant(
  captures: Iterable<CaptureRecord>,
  feedback: Iterable<FeedbackRecord>,
): Record<string, { version: number; rows: number; accuracy: number }> {
  const result: Record<string, { version: number; rows: number; accuracy: number }> = {};
  for (const quality of qualityByVariant(captures, feedback)) {
    if (quality.accuracy !== undefined) {
      result[quality.variant] = { version: quality.version, rows: quality.rows, accuracy: quality.accuracy };
    }
  }
  return result;
}
