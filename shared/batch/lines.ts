/**
 * Rows of a byte range, read a window at a time: a chunk owns every line that starts inside
 * [start, end); the line it starts in the middle of belongs to the chunk before, and its own last
 * line is read to its end past `end`. Chunks of one object therefore cover every line exactly once.
 */
import { NotFoundError } from '../errors';
import type { ModelStore } from '../store';

const NEWLINE = 10;
export const WINDOW_BYTES = 1024 * 1024;

/** Reads bytes [start, end) of one object; `size` is the object's size. */
export interface ByteSource {
  read(start: number, end: number): Promise<{ body: Buffer; size: number }>;
}

export interface SourceLine {
  text: string;
  /** Byte offset of the line's first byte in the object. */
  offset: number;
}

/** The object `key` of `store` as a ByteSource (every built-in driver reads ranges). */
export function storeSource(store: ModelStore, key: string): ByteSource {
  const getRange = store.getRange?.bind(store);
  if (getRange === undefined) throw new Error(`${store.url} cannot read byte ranges`);
  return {
    async read(start, end) {
      const result = await getRange(key, start, end);
      if (result === undefined) throw new NotFoundError(`${store.url}/${key} does not exist`);
      return result;
    },
  };
}

/** Non-blank lines starting in [start, end), with their offsets; a trailing \r is dropped. */
export async function* linesInRange(
  source: ByteSource,
  start: number,
  end: number,
  windowBytes = WINDOW_BYTES,
): AsyncGenerator<SourceLine> {
  let position = start;
  let pending: Buffer = Buffer.alloc(0);
  let size = Number.POSITIVE_INFINITY;
  const more = async (): Promise<boolean> => {
    if (position >= size) return false;
    const { body, size: total } = await source.read(position, position + windowBytes);
    size = total;
    position += body.byteLength;
    pending = pending.byteLength === 0 ? body : Buffer.concat([pending, body]);
    return body.byteLength > 0;
  };
  let lineStart = start;
  if (start > 0) {
    // The line before `start` ends at start - 1 exactly when the chunk begins on a row.
    const before = await source.read(start - 1, start);
    size = before.size;
    if (before.body[0] !== NEWLINE) {
      let skipped = -1;
      while (skipped === -1) {
        skipped = pending.indexOf(NEWLINE);
        if (skipped === -1 && !(await more())) return;
      }
      lineStart += skipped + 1;
      pending = pending.subarray(skipped + 1);
    }
  }
  let from = 0;
  while (lineStart < end) {
    let newline = pending.indexOf(NEWLINE, from);
    if (newline === -1) {
      pending = pending.subarray(from);
      from = 0;
      if (await more()) continue;
      if (pending.byteLength === 0) return;
      newline = pending.byteLength;
    }
    const stop = newline > from && pending[newline - 1] === 13 ? newline - 1 : newline;
    const text = pending.toString('utf8', from, stop);
    if (text.trim() !== '') yield { text, offset: lineStart };
    lineStart += newline + 1 - from;
    from = newline + 1;
  }
}
