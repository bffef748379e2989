/**
 * One neutral event per request. Cloud formatters (CloudWatch EMF, Cloud Logging, Azure) turn it
 * into what their alarms read; the core never knows which one is in use.
 */
export interface RequestMetricEvent {
  timestamp: string;
  requestId: string;
  stage: string;
  route: string;
  method: string;
  status: number;
  /** Present when the request failed: a stable class such as `invalid_input` or `unavailable`. */
  errorClass?: string;
  model?: string;
  version?: number;
  variant?: string;
  coldStart: boolean;
  /** Whole request inside the core, in milliseconds. */
  latencyMs: number;
  /** `session.run` alone. */
  inferenceMs?: number;
  /** Download + verify + session creation, when this request caused a load. */
  loadMs?: number;
  cache?: 'hit' | 'miss';
  batchSize?: number;
  /** true when the variant was chosen by the request's sticky key (not a random draw). */
  sticky?: boolean;
  /** The shadow version this request was sampled for; its result was never returned. */
  shadowVersion?: number;
  /** Classifiers: share of rows whose top-1 class the shadow agrees on, in [0, 1]. */
  shadowAgreement?: number;
  /** Regressors: mean absolute difference between the shadow's output and the primary's. */
  shadowMeanAbsDiff?: number;
  /** Shadow `session.run` time minus the primary's, in milliseconds. */
  shadowLatencyDeltaMs?: number;
  /** All shadow work (load if needed, run, compare), in milliseconds. */
  shadowMs?: number;
  /** Error class when the shadow could not run or be compared; the response is unaffected. */
  shadowError?: string;
  /** Set when the model's capture sample rate is above 0: whether this request was captured. */
  captured?: boolean;
  /** Capture records dropped (buffer full, store down) since the previous event reported some. */
  captureDropped?: number;
  /**
   * Feedback joined with this variant's captured requests since its previous event: rows scored,
   * and the rows classified right (classifiers) or the sums of |error| and error² (regressors).
   */
  feedbackRows?: number;
  feedbackCorrect?: number;
  feedbackAbsError?: number;
  feedbackSquaredError?: number;
  /** PSI per feature of this variant's inputs since its previous drift window, on the event closing one. */
  driftPsi?: Record<string, number>;
  driftPsiMax?: number;
  /** PSI of the predicted classes or values in the same window. */
  predictionPsi?: number;
}

export type MetricSink = (event: RequestMetricEvent) => void;

/** The neutral event as one JSON line on stdout: readable locally and by any log pipeline. */
export const jsonLineSink: MetricSink = (event) => {
  process.stdout.write(jsonLine(event));
};

function jsonLine(event: RequestMetricEvent): string {
  // The same text as stringifying `{ type, ...event }` (events have no `type` key and are never
  // empty), without building the spread copy on every request.
  return `{"type":"modelfleet.request",${JSON.stringify(event).slice(1)}\n`;
}

/** Pending lines above this size are written at once rather than at the end of the turn. */
const BATCHED_LINES_MAX_CHARS = 64 * 1024;

/**
 * jsonLineSink's lines, written once per event-loop turn: a server answering many requests at once
 * pays one stdout write per turn instead of one per request (a synchronous write each: 7 % of the
 * local server's profile at 16 connections). For long-lived servers only: a frozen or killed
 * function instance would lose its last turn's lines, so the function entries write each line as
 * it comes. `flush()` writes what is pending (the server calls it when it stops).
 */
export function batchedJsonLineSink(
  write: (text: string) => void = (text) => process.stdout.write(text),
): MetricSink & { flush(): void } {
  let pending = '';
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  const sink = (event: RequestMetricEvent) => {
    pending += jsonLine(event);
    if (pending.length > BATCHED_LINES_MAX_CHARS) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return Object.assign(sink, { flush });
}

export const discardSink: MetricSink = () => {};
