/**
 * A batch of streamed records → predictions, on the same data plane as HTTP: each record is decoded
 * by the HTTP payload parsers, routed on its own (variant pick, sticky key, shadow sample), and
 * records served by the same loaded version are run as one `session.run` when the model has a batch
 * axis. Should that run fail, each record runs alone, so one bad record fails only itself. Every
 * record gets one metric event and goes through the monitor (capture, drift), as a request does.
 */
import { BadRequestError, errorClassOf, HttpError } from '../errors';
import type { MetricFields } from '../http/finish';
import { modelHeaders, type PayloadLimits } from '../protocol/payloads';
import type { DataPlane, Target } from '../serving/dataplane';
import { runInference } from '../serving/inference';
import type { LoadedModel } from '../serving/loaded-model';
import type { Observation } from '../serving/monitoring';
import { RowIndependence } from '../serving/row-independence';
import { describeError, type Logger } from '../telemetry/log';
import type { MetricSink, RequestMetricEvent } from '../telemetry/metric-event';
import type { InferCall } from '../tensor/types';
import { type DecodedRecord, decodeRecord, type RecordDefaults, type StreamRecord } from './record-format';

/** The metric route of streamed records (the HTTP routes are infer, mlflow_invocations, …). */
export const RECORD_ROUTE = 'record';

export interface RecordError {
  status: number;
  errorClass: string;
  message: string;
}

export type RecordOutcome =
  | {
      id: string;
      status: 'ok';
      model: string;
      stage: string;
      version: number;
      variant: string;
      /** The body HTTP would have answered for the same request (OIP, MLflow or TF-Serving JSON). */
      body: string;
    }
  /** `poison`: the record itself is at fault (4xx): retrying cannot help. `retry`: anything else. */
  | { id: string; status: 'poison' | 'retry'; error: RecordError };

export interface RecordScorerParts {
  /** The data plane serving `stage` (one deployments cache per stage, one model cache for all). */
  dataPlaneFor(stage: string): DataPlane;
  limits: PayloadLimits;
  metrics: MetricSink;
  /** The monitor's hook (capture, drift), called with each record's event as for a request. */
  finished(event: RequestMetricEvent, observed: Observation | undefined): void;
  log: Logger;
  exposeInternals: boolean;
}

interface Item {
  record: StreamRecord;
  started: number;
  metric: MetricFields;
  decoded?: DecodedRecord;
  target?: Target;
  loaded?: LoadedModel;
  call?: InferCall;
  outcome?: RecordOutcome;
  observed?: Observation;
}

interface Run {
  outputs: import('../tensor/types').OutputTensor[];
  runMs: number;
  batchRows: number;
}

export class RecordScorer {
  private coldStart = true;
  private readonly rows: RowIndependence;

  constructor(private readonly parts: RecordScorerParts) {
    this.rows = new RowIndependence(parts.log);
  }

  /** One outcome per record, in the records' order. Never throws. */
  async score(records: readonly StreamRecord[], defaults: RecordDefaults): Promise<RecordOutcome[]> {
    const items: Item[] = records.map((record) => ({ record, started: performance.now(), metric: {} }));
    await Promise.all(items.map((item) => this.prepare(item, defaults)));
    const groups = new Map<LoadedModel, Item[]>();
    for (const item of items) {
      if (item.outcome !== undefined || item.loaded === undefined) continue;
      const group = groups.get(item.loaded) ?? [];
      group.push(item);
      groups.set(item.loaded, group);
    }
    for (const [loaded, group] of groups) await this.runGroup(loaded, group);
    return items.map((item) => this.finish(item, defaults.stage));
  }

  /** Decode, route, load and parse one record; a failure becomes its outcome. */
  private async prepare(item: Item, defaults: RecordDefaults): Promise<void> {
    try {
      const decoded = decodeRecord(item.record, defaults, this.parts.limits);
      item.decoded = decoded;
      const { target, loaded } = await this.parts
        .dataPlaneFor(decoded.stage)
        .targetFor(decoded.model, decoded.pinnedVersion, decoded, item.metric);
      const call = decoded.format.parse(decoded.body, loaded, this.parts.limits);
      if (call.binaryOutputs !== undefined) {
        throw new BadRequestError(
          'outputs: binary outputs are for HTTP responses; records are answered in JSON',
        );
      }
      Object.assign(item, { target, loaded, call });
    } catch (err) {
      this.fail(item, err);
    }
  }

  /**
   * One session.run for the group when the records can share one (serving/row-independence.ts:
   * checked against runs alone the first time); else, or on failure, one per record.
   */
  private async runGroup(loaded: LoadedModel, group: Item[]): Promise<void> {
    const calls = group.map((item) => item.call as InferCall);
    const shared = await this.rows.share(loaded, calls, (call) => runInference(loaded, call));
    for (const [index, item] of group.entries()) {
      try {
        const outcome = shared?.[index];
        if (outcome !== undefined && outcome.result === undefined) throw outcome.error;
        const call = calls[index] as InferCall;
        const run = outcome?.result ?? (await runInference(loaded, call));
        await this.answer(item, loaded, { ...run, batchRows: outcome?.batchRows ?? rowsOf(call) });
      } catch (err) {
        this.fail(item, err);
      }
    }
  }

  /** The record's response body, its metric fields and its shadow, as DataPlane.infer does. */
  private async answer(item: Item, loaded: LoadedModel, run: Run): Promise<void> {
    const decoded = item.decoded as DecodedRecord;
    const target = item.target as Target;
    const call = item.call as InferCall;
    item.metric.batchSize = run.batchRows;
    item.metric.inferenceMs = run.runMs;
    const result = { model: loaded, target, call, outputs: run.outputs, requestId: decoded.id };
    const response = decoded.format.respond(decoded.body, result, modelHeaders(decoded.model, target));
    const body =
      typeof response.body === 'string' ? response.body : Buffer.from(response.body).toString('utf8');
    item.observed = { manifest: loaded.manifest, call, outputs: run.outputs };
    const { model, stage } = decoded;
    item.outcome = {
      id: decoded.id,
      status: 'ok',
      model,
      stage,
      version: target.version,
      variant: target.variant,
      body,
    };
    if (target.shadowVersion !== undefined) {
      const parse = (m: LoadedModel) => decoded.format.parse(decoded.body, m, this.parts.limits);
      await this.parts.dataPlaneFor(stage).shadow(model, target.shadowVersion, parse, run, item.metric);
    }
  }

  private fail(item: Item, err: unknown): void {
    const status = err instanceof HttpError ? err.status : 500;
    const errorClass = errorClassOf(err);
    item.metric.errorClass = errorClass;
    if (status >= 500) this.parts.log.error('record failed', { id: item.record.id, ...describeError(err) });
    const internal = status >= 500 && !(err instanceof HttpError) && !this.parts.exposeInternals;
    const message = internal ? 'internal error' : err instanceof Error ? err.message : String(err);
    item.outcome = {
      id: item.record.id,
      status: status < 500 ? 'poison' : 'retry',
      error: { status, errorClass, message },
    };
  }

  /** The record's one metric event, then its outcome. */
  private finish(item: Item, defaultStage: string): RecordOutcome {
    const outcome = item.outcome ?? {
      id: item.record.id,
      status: 'retry' as const,
      error: { status: 500, errorClass: 'internal', message: 'record was not scored' },
    };
    const event: RequestMetricEvent = {
      timestamp: new Date().toISOString(),
      requestId: item.record.id,
      stage: item.decoded?.stage ?? defaultStage,
      route: RECORD_ROUTE,
      method: 'RECORD',
      status: outcome.status === 'ok' ? 200 : outcome.error.status,
      coldStart: this.coldStart,
      latencyMs: performance.now() - item.started,
    };
    Object.assign(event, item.metric);
    this.coldStart = false;
    try {
      this.parts.finished(event, item.observed);
      this.parts.metrics(event);
    } catch (err) {
      this.parts.log.warn('record metric failed', describeError(err));
    }
    return outcome;
  }
}

function rowsOf(call: InferCall): number {
  return call.inputs.values().next().value?.shape[0] ?? 1;
}
