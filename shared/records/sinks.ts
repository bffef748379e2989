/**
 * Where predictions and dead letters of streamed records go. Every sink has one operation: write a
 * batch of messages and say which of them did not make it (the platform redelivers those records);
 * a write that fails as a whole throws. The cloud sinks call the services' HTTP APIs with fetch
 * (AWS signed by store/sigv4.ts), so no SDK is loaded; the store sink writes JSON lines.
 */
import { randomUUID } from 'node:crypto';
import { streamOutputKey } from '../repository/layout';
import type { ModelStore } from '../store/types';

export interface SinkMessage {
  /** The record's id at its source (for logs, deduplication and partition keys). */
  id: string;
  /** One JSON document. */
  body: string;
  /** Small string attributes (model, version, variant, status) where the service carries them. */
  attributes: Record<string, string>;
}

export interface RecordSink {
  /** `sqs`, `store`, …: for logs and the stream's summary. */
  readonly kind: string;
  /** Ids of the messages the service refused; throws when nothing was written. */
  write(messages: readonly SinkMessage[]): Promise<string[]>;
}

export class SinkError extends Error {
  override name = 'SinkError';
}

/** Results that are not kept anywhere (metrics and capture still see every record). */
export const discardingSink: RecordSink = { kind: 'none', write: async () => [] };

/**
 * JSON lines in the model store, one object per batch:
 * `<prefix>/<stage>/YYYY/MM/DD/HH/<time>-<random>.jsonl` (repository/layout.ts).
 */
export function storeSink(
  store: ModelStore,
  prefix: string,
  stage: string,
  now = () => new Date(),
): RecordSink {
  return {
    kind: 'store',
    async write(messages) {
      if (messages.length === 0) return [];
      const at = now();
      const key = streamOutputKey(prefix, stage, at, `${at.getTime()}-${randomUUID()}`);
      const lines = messages.map((message) => `${oneLine(message.body)}\n`).join('');
      await store.put(key, Buffer.from(lines, 'utf8'), { contentType: 'application/x-ndjson' });
      return [];
    },
  };
}

/** JSON text on one line (a body is JSON.stringify output already; this only guards the rule). */
function oneLine(body: string): string {
  return body.includes('\n') ? JSON.stringify(JSON.parse(body)) : body;
}

/** Splits messages into the service's batches: at most `count` entries and `bytes` of bodies each. */
export function chunk<T extends { body: string }>(items: readonly T[], count: number, bytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const length = Buffer.byteLength(item.body) + 512;
    if (current.length > 0 && (current.length >= count || size + length > bytes)) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += length;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** One HTTP call of a sink; a network failure or a non-2xx answer is a SinkError with the status. */
export async function send(url: string, init: RequestInit, what: string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new SinkError(`${what}: cannot reach ${new URL(url).origin}: ${(err as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok) throw new SinkError(`${what} answered ${response.status}: ${text.slice(0, 300)}`);
  return text;
}
