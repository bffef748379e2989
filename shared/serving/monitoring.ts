import { CAPTURE_DIR, FEEDBACK_DIR, recordBatchKey } from '../repository/layout';
import type { Manifest } from '../repository/manifest';
import type { ModelStore } from '../store/types';
import {
  BatchWriter,
  type CapturedTensor,
  type CaptureRecord,
  encodeBatch,
  type FeedbackRecord,
} from '../telemetry/capture';
import { DriftTracker } from '../telemetry/drift';
import { describeError, type Logger } from '../telemetry/log';
import type { RequestMetricEvent } from '../telemetry/metric-event';
import { addTally, predictionOf, type QualityTally, scoreFeedback } from '../telemetry/quality';
import { outputValues } from '../tensor/compare';
import { encodeTensorData } from '../tensor/tensor';
import type { InferCall, OutputTensor } from '../tensor/types';

/** Settings of data capture and drift (parsed once in shared/config.ts). */
export interface MonitoringSettings {
  /** Share of inference requests captured on this stage, 0-1 (CAPTURE_SAMPLE_RATE). */
  captureSampleRate: number;
  /** Per-model overrides (CAPTURE_SAMPLE_RATES="iris=0.5,house-price=0"). */
  captureSampleRates: Record<string, number>;
  /** Also capture inputs; off by default because inputs may hold personal data (CAPTURE_INPUTS). */
  captureInputs: boolean;
  captureBatchRecords: number;
  captureMaxAgeMs: number;
  captureBufferRecords: number;
  /** How often each variant's PSI is computed and emitted (DRIFT_INTERVAL_SECONDS). */
  driftIntervalMs: number;
  /** A window with fewer rows is extended rather than reported: PSI of a handful of rows is noise. */
  driftMinRows: number;
  /** PSI at or above which a feature counts as drifted (DRIFT_PSI_THRESHOLD). */
  driftPsiThreshold: number;
}

/** What an inference request saw, handed over by the route for capture, drift and joins. */
export interface Observation {
  manifest: Manifest;
  call: InferCall;
  outputs: readonly OutputTensor[];
}

/** Captured outputs kept for joining feedback that arrives at this instance (bounded). */
const JOIN_LIMIT = 10_000;

interface VariantState {
  drift?: DriftTracker;
  windowStart: number;
  pending?: QualityTally;
}

/**
 * The serving half of model monitoring: samples requests into the capture stream, keeps each
 * variant's drift histograms, joins feedback with what this instance captured, and hangs the
 * resulting figures on the next metric event of the same model version and variant (so they carry
 * its dimensions on every cloud without a second metric pipeline). Nothing here may fail a request.
 */
export class Monitor {
  readonly capture: BatchWriter<CaptureRecord>;
  private readonly joins = new Map<string, { key: string; outputs: CapturedTensor[] }>();
  private readonly variants = new Map<string, VariantState>();
  private warned = false;

  constructor(
    private readonly settings: MonitoringSettings,
    private readonly stage: string,
    private readonly store: ModelStore,
    private readonly log: Logger,
    private readonly random: () => number,
    private readonly now: () => number = Date.now,
  ) {
    this.capture = new BatchWriter<CaptureRecord>({
      store,
      keyOf: (model, at, batchId) => recordBatchKey(model, CAPTURE_DIR, stage, at, batchId),
      modelOf: (record) => record.model,
      maxRecords: settings.captureBatchRecords,
      maxAgeMs: settings.captureMaxAgeMs,
      maxBuffered: settings.captureBufferRecords,
      log,
      now,
    });
  }

  sampleRate(model: string): number {
    return this.settings.captureSampleRates[model] ?? this.settings.captureSampleRate;
  }

  /** Called with every request's metric event before it is emitted; adds monitoring figures to it. */
  record(event: RequestMetricEvent, observed: Observation | undefined): void {
    const { model, version, variant } = event;
    if (model === undefined || version === undefined || variant === undefined) return;
    try {
      const rate = this.sampleRate(model);
      const key = this.keyOf(model, version, variant);
      const state = this.variantState(key, observed);
      if (rate > 0 && (rate >= 1 || this.random() < rate)) {
        event.captured = this.captureRequest(event, key, observed);
      } else if (rate > 0) {
        event.captured = false;
      }
      if (state !== undefined) {
        if (observed !== undefined && state.drift !== undefined) this.observeDrift(state.drift, observed);
        this.attachDrift(event, state, rate);
        this.attachQuality(event, state);
      }
      const dropped = this.capture.takeDropped();
      if (dropped > 0) event.captureDropped = dropped;
    } catch (err) {
      if (!this.warned) this.log.warn('monitoring failed for a request', describeError(err));
      this.warned = true;
    }
  }

  private lastKey = { model: '', version: 0, variant: '', key: '' };

  /** The variant's map key; consecutive requests mostly name the same one, so it is built once for them. */
  private keyOf(model: string, version: number, variant: string): string {
    const last = this.lastKey;
    if (last.model !== model || last.version !== version || last.variant !== variant) {
      this.lastKey = { model, version, variant, key: `${model}\u0000${version}\u0000${variant}` };
    }
    return this.lastKey.key;
  }

  private variantState(key: string, observed: Observation | undefined): VariantState | undefined {
    let state = this.variants.get(key);
    if (state === undefined && observed !== undefined) {
      const baseline = observed.manifest.baseline;
      state = {
        windowStart: this.now(),
        ...(baseline === undefined ? {} : { drift: new DriftTracker(baseline) }),
      };
      this.variants.set(key, state);
    }
    return state;
  }

  private captureRequest(event: RequestMetricEvent, key: string, observed: Observation | undefined): boolean {
    const outputs = observed?.outputs.map(capturedOutput);
    const record: CaptureRecord = {
      kind: 'request',
      id: event.requestId,
      time: event.timestamp,
      model: event.model as string,
      version: event.version as number,
      variant: event.variant as string,
      stage: this.stage,
      status: event.status,
      ...(event.errorClass === undefined ? {} : { errorClass: event.errorClass }),
      latencyMs: Math.round(event.latencyMs * 1000) / 1000,
      ...(outputs === undefined ? {} : { outputs }),
      ...(observed !== undefined && this.settings.captureInputs ? { inputs: capturedInputs(observed) } : {}),
    };
    if (!this.capture.add(record)) return false;
    if (outputs !== undefined) {
      if (this.joins.size >= JOIN_LIMIT) this.joins.delete(this.joins.keys().next().value as string);
      this.joins.set(event.requestId, { key, outputs });
    }
    return true;
  }

  private observeDrift(drift: DriftTracker, observed: Observation): void {
    const columns = featureColumns(observed);
    if (columns === undefined) return;
    const prediction = predictionOf(observed.outputs.map(capturedOutput));
    drift.observe(columns.rows, columns.column, prediction?.values);
  }

  private attachDrift(event: RequestMetricEvent, state: VariantState, rate: number): void {
    const drift = state.drift;
    if (drift === undefined || this.now() - state.windowStart < this.settings.driftIntervalMs) return;
    if (drift.rows < this.settings.driftMinRows) return;
    state.windowStart = this.now();
    const snapshot = drift.snapshot();
    event.driftPsi = snapshot.psi;
    event.driftPsiMax = Math.max(0, ...Object.values(snapshot.psi));
    if (snapshot.predictionPsi !== undefined) event.predictionPsi = snapshot.predictionPsi;
    if (rate > 0) {
      this.capture.add({
        kind: 'drift',
        time: event.timestamp,
        model: event.model as string,
        version: event.version as number,
        variant: event.variant as string,
        stage: this.stage,
        rows: snapshot.rows,
        psi: snapshot.psi,
        ...(snapshot.predictionPsi === undefined ? {} : { predictionPsi: snapshot.predictionPsi }),
      });
    }
  }

  private attachQuality(event: RequestMetricEvent, state: VariantState): void {
    const tally = state.pending;
    if (tally === undefined) return;
    state.pending = undefined;
    event.feedbackRows = tally.rows;
    if (tally.kind === 'classification') event.feedbackCorrect = tally.correct;
    else {
      event.feedbackAbsError = tally.absError;
      event.feedbackSquaredError = tally.squaredError;
    }
  }

  /**
   * Stores a feedback batch (awaited: a client told 200 may rely on it) and scores the items this
   * instance captured; their tallies ride the variant's next metric event.
   */
  async feedback(model: string, items: readonly Omit<FeedbackRecord, 'time' | 'model'>[]): Promise<number> {
    const at = new Date(this.now());
    const time = at.toISOString();
    const records: FeedbackRecord[] = items.map((item) => ({ ...item, time, model }));
    const batchId = `${at.getTime()}-${Math.floor(this.random() * 2 ** 32).toString(16)}`;
    await this.store.put(
      recordBatchKey(model, FEEDBACK_DIR, this.stage, at, batchId),
      await encodeBatch(records),
      {
        contentType: 'application/gzip',
      },
    );
    let joined = 0;
    for (const record of records) {
      const captured = this.joins.get(record.id);
      if (captured === undefined) continue;
      const tally = scoreFeedback(captured.outputs, record);
      const state = this.variants.get(captured.key);
      if (tally === undefined || state === undefined) continue;
      state.pending = addTally(state.pending, tally);
      joined++;
    }
    return joined;
  }

  /** Writes what is buffered: on a clean shutdown and in tests. */
  flush(): Promise<void> {
    return this.capture.flush();
  }
}

function capturedOutput(output: OutputTensor): CapturedTensor {
  return { name: output.name, datatype: output.datatype, shape: output.shape, data: outputValues(output) };
}

function capturedInputs({ call, manifest }: Observation): CapturedTensor[] {
  const inputs: CapturedTensor[] = [];
  for (const input of call.inputs.values()) {
    inputs.push({
      name: input.name,
      datatype: manifest.signature.inputs.find((spec) => spec.name === input.name)?.datatype ?? 'UNKNOWN',
      shape: input.shape,
      data: encodeTensorData(input.data as never),
    });
  }
  return inputs;
}

/**
 * A request's values per feature name, in the manifest's layout: the `features` columns of a
 * single [N, k] input, or one [N] / [N, 1] input per feature.
 */
export function featureColumns(
  observed: Observation,
): { rows: number; column: (name: string) => ArrayLike<unknown> | undefined } | undefined {
  const { manifest, call } = observed;
  const features = manifest.features;
  const [single] = call.inputs.values();
  if (features !== undefined && call.inputs.size === 1 && single !== undefined) {
    const width = single.shape.at(-1) ?? 0;
    if (width !== features.length || width === 0) return undefined;
    const rows = single.data.length / width;
    const data = single.data as ArrayLike<unknown>;
    return {
      rows,
      column: (name) => {
        const j = features.indexOf(name);
        if (j === -1) return undefined;
        const values = new Array<unknown>(rows);
        for (let i = 0; i < rows; i++) values[i] = toPlain(data[i * width + j]);
        return values;
      },
    };
  }
  if (single === undefined) return undefined;
  const rows = single.shape[0] ?? 0;
  return {
    rows,
    column: (name) => {
      const input = call.inputs.get(name);
      if (input === undefined || input.data.length !== rows) return undefined;
      return Array.from(input.data as ArrayLike<unknown>, toPlain);
    },
  };
}

function toPlain(value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}
