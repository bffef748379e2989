/**
 * Rows of a byte range, read a window at a time: a chunk owns every line that starts inside
 * [start, end); the line it starts in the middle of belongs to the chunk before, and its own last
 * line is read to its end past `end`. Chunks of one object therefore cover every line exactly once.
 */
import { isAscii } from 'node:buffer';
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

/** Lines of one read window: texts and their byte offsets in the object. */
export interface LineBlock {
  texts: string[];
  offsets: number[];
}

/** Non-blank lines starting in [start, end), with their offsets; a trailing \r is dropped. */
export async function* linesInRange(
  source: ByteSource,
  start: number,
  end: number,
  windowBytes = WINDOW_BYTES,
): AsyncGenerator<SourceLine> {
  for await (const { texts, offsets } of lineBlocksInRange(source, start, end, windowBytes)) {
    for (let i = 0; i < texts.length; i++) yield { text: texts[i] as string, offset: offsets[i] as number };
  }
}

/** `linesInRange` a window at a time: no object per line, one string decode per ASCII window. */
export async function* lineBlocksInRange(
  source: ByteSource,
  start: number,
  end: number,
  windowBytes = WINDOW_BYTES,
): AsyncGenerator<LineBlock> {
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
  while (lineStart < end) {
    let last = pending.lastIndexOf(NEWLINE);
    if (last === -1) {
      if (await more()) continue;
      if (pending.byteLength === 0) return;
      // The object's last line has no line break.
      last = pending.byteLength;
    }
    const block = splitLines(pending, last, lineStart, end);
    lineStart += block.consumed;
    pending = pending.subarray(Math.min(pending.byteLength, block.consumed));
    if (block.texts.length > 0) yield block;
  }
}

/**
 * The lines of bytes [0, stop] (stop: the last line break, or the length for a final line) that
 * start before `end`, the first at object offset `offset`. An ASCII window is decoded once, so
 * string indexes are byte offsets; otherwise each line is decoded alone.
 */
function splitLines(
  bytes: Buffer,
  stop: number,
  offset: number,
  end: number,
): LineBlock & { consumed: number } {
  const texts: string[] = [];
  const offsets: number[] = [];
  const ascii = isAscii(bytes.subarray(0, stop));
  const text = ascii ? bytes.toString('latin1', 0, stop) : '';
  let from = 0;
  while (from <= stop && offset + from < end) {
    let newline = ascii ? text.indexOf('\n', from) : bytes.indexOf(NEWLINE, from);
    if (newline === -1 || newline > stop) newline = stop;
    const lineEnd = newline > from && bytes[newline - 1] === 13 ? newline - 1 : newline;
    const line = ascii ? text.slice(from, lineEnd) : bytes.toString('utf8', from, lineEnd);
    const first = line.charCodeAt(0);
    if ((first > 32 && first < 128) || line.trim() !== '') {
      texts.push(line);
      offsets.push(offset + from);
    }
    from = newline + 1;
  }
  return { texts, offsets, consumed: from };
}
