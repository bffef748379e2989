/**
 * The chunks of a Parquet input: whole row groups, as many as fit in `chunkBytes` of compressed
 * column data (at least one, however large). A row group is the smallest unit a reader can decode
 * on its own, so chunks never split one; the byte ranges only measure progress.
 */
import { type ChunkRange, checkChunkBytes, type ParquetLayout } from './job';

/** Chunks over the row groups of `layout` (pure); `size` and `dataStart` bound the byte ranges. */
export function planRowGroupChunks(
  layout: ParquetLayout,
  dataStart: number,
  size: number,
  chunkBytes: number,
): ChunkRange[] {
  checkChunkBytes(chunkBytes);
  const groups = layout.rowGroups;
  const chunks: ChunkRange[] = [];
  let first = 0;
  let firstRow = 0;
  while (first < groups.length) {
    let end = first + 1;
    let bytes = groups[first]?.bytes ?? 0;
    let rows = groups[first]?.rows ?? 0;
    for (let next = groups[end]; next !== undefined && bytes + next.bytes <= chunkBytes; next = groups[end]) {
      bytes += next.bytes;
      rows += next.rows;
      end++;
    }
    chunks.push({
      index: chunks.length,
      start: chunks.length === 0 ? dataStart : (groups[first]?.start ?? dataStart),
      // Up to the next chunk's first group, the last one to the end of the file (the footer, read
      // by every chunk): skipped and finished chunks then add up to the whole object.
      end: groups[end]?.start ?? size,
      rowGroups: { first, end },
      rows: { first: firstRow, end: firstRow + rows },
    });
    first = end;
    firstRow += rows;
  }
  return chunks;
}
