import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzipSync, gzip } from 'node:zlib';
import type { ModelStore } from '../store/types';
import { describeError, type Logger } from './log';

const gzipAsync = promisify(gzip);

/** An output (or input) tensor as captured: the OIP JSON shape. */
export interface CapturedTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/** One sampled request, the same JSON line on every cloud. */
export interface RequestRecord {
  kind: 'request';
  /** The request id clients send feedback for (x-request-id). */
  id: string;
  time: string;
  model: string;
  version: number;
  variant: string;
  stage: string;
  status: number;
  errorClass?: string;
  latencyMs: number;
  outputs?: CapturedTensor[];
  /** Only with CAPTURE_INPUTS=true: inputs may hold personal data. */
  inputs?: CapturedTensor[];
}

/** A drift snapshot of one variant: PSI per feature and for the predictions since the last one. */
export interface DriftRecord {
  kind: 'drift';
  time: string;
  model: string;
  version: number;
  variant: string;
  stage: string;
  /** Rows observed in the window the PSI values describe. */
  rows: number;
  psi: Record<string, number>;
  predictionPsi?: number;
}

export type CaptureRecord = RequestRecord | DriftRecord;

/** Ground truth for one earlier request: exactly one of label, value or outputs. */
export interface FeedbackRecord {
  id: string;
  time: string;
  model: string;
  label?: string | number | (string | number)[];
  value?: number | number[];
  outputs?: { name: string; data: unknown[] }[];
}

export interface BatchWriterOptions<T> {
  store: ModelStore;
  /** Store key of a batch of `model`'s records whose first record is from `at`. */
  keyOf: (model: string, at: Date, batchId: string) => string;
  modelOf: (record: T) => string;
  /** Write once this many records are buffered... */
  maxRecords: number;
  /** ...or once the oldest buffered record is this old (checked when a record is added). */
  maxAgeMs: number;
  /** Records beyond this are dropped (and counted), so a slow or dead store never grows memory. */
  maxBuffered: number;
  log: Logger;
  now?: () => number;
}

/** gzipped JSON lines: what every batch object holds. */
export async function encodeBatch(records: readonly unknown[]): Promise<Buffer> {
  let text = '';
  for (const record of records) text += `${JSON.stringify(record)}\n`;
  return gzipAsync(text);
}

export function decodeBatch(body: Uint8Array): unknown[] {
  const text = gunzipSync(body).toString('utf8');
  const records: unknown[] = [];
  for (const line of text.split('\n')) if (line.trim() !== '') records.push(JSON.parse(line));
  return records;
}

/**
 * Buffers records and writes them in batches, never on a request's critical path: `add` is
 * synchronous and bounded, a write it triggers runs in the background, and a failed write puts
 * its records back (as far as the bound allows; the rest are counted as dropped).
 */
export class BatchWriter<T> {
  private buffer: T[] = [];
  private oldest = 0;
  private writing: Promise<void> | undefined;
  private dropped = 0;
  private sequence = 0;
  private readonly instance = randomBytes(4).toString('hex');
  private readonly now: () => number;

  constructor(private readonly options: BatchWriterOptions<T>) {
    this.now = options.now ?? Date.now;
  }

  /** false when the record was dropped because the buffer is full. */
  add(record: T): boolean {
    if (this.buffer.length >= this.options.maxBuffered) {
      this.dropped++;
      return false;
    }
    if (this.buffer.length === 0) this.oldest = this.now();
    this.buffer.push(record);
    if (
      this.writing === undefined &&
      (this.buffer.length >= this.options.maxRecords || this.now() - this.oldest >= this.options.maxAgeMs)
    ) {
      void this.flush();
    }
    return true;
  }

  /** Records dropped since the last call (what a metric event reports). */
  takeDropped(): number {
    const count = this.dropped;
    this.dropped = 0;
    return count;
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** Writes everything buffered now; resolves once written (or put back after a failure). */
  flush(): Promise<void> {
    if (this.writing !== undefined) return this.writing.then(() => this.flush());
    if (this.buffer.length === 0) return Promise.resolve();
    const batch = this.buffer;
    this.buffer = [];
    this.writing = this.write(batch).finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  private async write(batch: T[]): Promise<void> {
    const byModel = new Map<string, T[]>();
    for (const record of batch) {
      const model = this.options.modelOf(record);
      const group = byModel.get(model);
      if (group === undefined) byModel.set(model, [record]);
      else group.push(record);
    }
    const at = new Date(this.oldest === 0 ? this.now() : this.oldest);
    for (const [model, records] of byModel) {
      const batchId = `${at.getTime()}-${this.instance}-${String(this.sequence++).padStart(6, '0')}`;
      try {
        const key = this.options.keyOf(model, at, batchId);
        await this.options.store.put(key, await encodeBatch(records), { contentType: 'application/gzip' });
      } catch (err) {
        this.requeue(records);
        this.options.log.warn('monitoring records not written; kept for the next batch', {
          model,
          records: records.length,
          ...describeError(err),
        });
      }
    }
  }

  private requeue(records: T[]): void {
    const room = Math.max(0, this.options.maxBuffered - this.buffer.length);
    const kept = records.slice(0, room);
    this.dropped += records.length - kept.length;
    if (this.buffer.length === 0 && kept.length > 0) this.oldest = this.now();
    this.buffer = kept.concat(this.buffer);
  }
}
