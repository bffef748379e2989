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

/**
 * Lines of one read window, as byte ranges of it: no string per line until one is asked for
 * (the CSV hot path reads numbers straight from the bytes).
 */
export interface LineBlock {
  bytes: Buffer;
  /** Line i is bytes [starts[i], ends[i]) of `bytes`: no line break, no trailing \r. */
  starts: number[];
  ends: number[];
  /** Byte offset of line i's first byte in the object. */
  offsets: number[];
}

export function lineText(block: LineBlock, line: number): string {
  return block.bytes.toString('utf8', block.starts[line], block.ends[line]);
}

/**
 * The lines of a batch: consecutive runs of lines of one or more blocks, in order. `LineBatch.of`
 * makes one from strings (tests, the bench).
 */
export class LineBatch {
  readonly runs: { block: LineBlock; from: number; to: number }[] = [];
  length = 0;

  static of(texts: readonly string[]): LineBatch {
    const batch = new LineBatch();
    const bytes = Buffer.from(texts.join('\n'));
    const block: LineBlock = { bytes, starts: [], ends: [], offsets: [] };
    let at = 0;
    for (const text of texts) {
      const length = Buffer.byteLength(text);
      block.starts.push(at);
      block.ends.push(at + length);
      block.offsets.push(at);
      at += length + 1;
    }
    batch.add(block, 0, texts.length);
    return batch;
  }

  add(block: LineBlock, from: number, to: number): void {
    if (to > from) this.runs.push({ block, from, to });
    this.length += to - from;
  }

  /** The block and its line number of the batch's line `index`. */
  at(index: number): { block: LineBlock; line: number } {
    let rest = index;
    for (const { block, from, to } of this.runs) {
      if (rest < to - from) return { block, line: from + rest };
      rest -= to - from;
    }
    throw new RangeError(`line ${index} of a batch of ${this.length}`);
  }

  text(index: number): string {
    const { block, line } = this.at(index);
    return lineText(block, line);
  }

  offset(index: number): number {
    const { block, line } = this.at(index);
    return block.offsets[line] as number;
  }

  texts(): string[] {
    return this.runs.flatMap(({ block, from, to }) =>
      Array.from({ length: to - from }, (_, i) => lineText(block, from + i)),
    );
  }
}

/**
 * The non-blank lines starting in [start, end), a window at a time, as byte ranges (no object or
 * string per line); a trailing \r is dropped.
 */
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
    if (block.starts.length > 0) yield block;
  }
}

/**
 * The lines of bytes [0, stop] (stop: the last line break, or the length for a final line) that
 * start before `end`, the first at object offset `offset`. Blank lines are not lines.
 */
function splitLines(
  bytes: Buffer,
  stop: number,
  offset: number,
  end: number,
): LineBlock & { consumed: number } {
  const block: LineBlock = { bytes, starts: [], ends: [], offsets: [] };
  // Line breaks found in a latin1 view of the window (one char per byte, whatever the encoding):
  // a string's indexOf is a builtin, Buffer's a call into C++ per line.
  const text = bytes.toString('latin1', 0, stop);
  let from = 0;
  while (from <= stop && offset + from < end) {
    let newline = text.indexOf('\n', from);
    if (newline === -1 || newline > stop) newline = stop;
    const lineEnd = newline > from && bytes[newline - 1] === 13 ? newline - 1 : newline;
    const first = bytes[from] ?? 0;
    if (
      (from < lineEnd && first > 32 && first < 128) ||
      bytes.toString('utf8', from, lineEnd).trim() !== ''
    ) {
      block.starts.push(from);
      block.ends.push(lineEnd);
      block.offsets.push(offset + from);
    }
    from = newline + 1;
  }
  return { ...block, consumed: from };
}
