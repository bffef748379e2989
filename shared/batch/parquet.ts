/**
 * Parquet input through hyparquet (pure JavaScript), read with the same ranged reads as the line
 * formats: the footer once per job and once per chunk, then only the column chunks of the row
 * groups a chunk owns. Values become the cells of a `columns` row, as a CSV record's do, so
 * scoring, validation and per-row errors are the line formats' code path.
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import {
  type AsyncBuffer,
  type Compressors,
  type DecodedArray,
  type FileMetaData,
  parquetMetadata,
  parquetRead,
  parquetSchema,
} from 'hyparquet';
import { BadRequestError, ConflictError } from '../errors';
import type { BatchInput, ParquetLayout } from './job';
import type { ByteSource } from './lines';

const MAGIC = 'PAR1';
/** One read for the footer of most files; a larger footer costs one more. */
const FOOTER_FETCH_BYTES = 64 * 1024;

/** hyparquet decodes SNAPPY itself; GZIP and BROTLI come from node:zlib, no extra package. */
const COMPRESSORS: Compressors = {
  GZIP: (input) => gunzipSync(input),
  BROTLI: (input) => brotliDecompressSync(input),
};
export const SUPPORTED_CODECS: readonly string[] = ['UNCOMPRESSED', 'SNAPPY', 'GZIP', 'BROTLI'];

function notParquet(key: string, why: string): BadRequestError {
  return new BadRequestError(
    `${key}: expected a Parquet file ("PAR1" at its start and end, a footer before the last 8 bytes), ${why}`,
  );
}

/** The object as hyparquet's AsyncBuffer: each slice one ranged read of the store. */
export function asyncBufferOf(source: ByteSource, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end = size) {
      const { body } = await source.read(start, end);
      if (body.byteLength !== end - start) {
        throw new ConflictError(
          `read bytes ${start}-${end} of ${size}, got ${body.byteLength}: the object changed while it was read`,
        );
      }
      return new Uint8Array(body).buffer;
    },
  };
}

/** The file's metadata from its footer; anything unreadable there is the caller's bad input. */
export async function readFooter(
  source: ByteSource,
  key: string,
): Promise<{ metadata: FileMetaData; size: number }> {
  const head = await source.read(0, MAGIC.length);
  const size = head.size;
  if (size < 2 * MAGIC.length + 4) throw notParquet(key, `got ${size} bytes`);
  const start = head.body.toString('latin1');
  if (start !== MAGIC) throw notParquet(key, `got ${JSON.stringify(start)} at its start`);
  const tailStart = Math.max(0, size - FOOTER_FETCH_BYTES);
  let footer = (await source.read(tailStart, size)).body;
  const end = footer.toString('latin1', footer.byteLength - MAGIC.length);
  if (end !== MAGIC) throw notParquet(key, `got ${JSON.stringify(end)} at its end`);
  const length = footer.readUInt32LE(footer.byteLength - 8);
  if (length + 8 + MAGIC.length > size) {
    throw notParquet(key, `the footer claims ${length} bytes of a ${size}-byte file`);
  }
  if (length + 8 > footer.byteLength) {
    footer = Buffer.concat([(await source.read(size - 8 - length, tailStart)).body, footer]);
  }
  try {
    return { metadata: parquetMetadata(footer.subarray(footer.byteLength - 8 - length)), size };
  } catch (err) {
    throw notParquet(key, `its footer does not decode (${(err as Error).message})`);
  }
}

/** Columns, row groups and codecs of a Parquet input, checked before any chunk is planned. */
export async function describeParquet(
  source: ByteSource,
  location: string,
  key: string,
): Promise<BatchInput> {
  const { metadata, size } = await readFooter(source, key);
  const rowGroups: ParquetLayout['rowGroups'] = metadata.row_groups.map((group, index) => {
    let start = Number.POSITIVE_INFINITY;
    let bytes = 0;
    for (const column of group.columns) {
      const meta = column.meta_data;
      const name = meta?.path_in_schema.join('.') ?? '?';
      if (column.file_path !== undefined || meta === undefined) {
        throw new BadRequestError(
          `${key}: row group ${index}, column "${name}": column data in another file is not supported`,
        );
      }
      if (!SUPPORTED_CODECS.includes(meta.codec)) {
        throw new BadRequestError(
          `${key}: row group ${index}, column "${name}" is compressed with ${meta.codec}; supported codecs: ${SUPPORTED_CODECS.join(', ')}`,
        );
      }
      start = Math.min(start, Number(meta.dictionary_page_offset ?? meta.data_page_offset));
      bytes += Number(meta.total_compressed_size);
    }
    return { rows: Number(group.num_rows), start: Number.isFinite(start) ? start : MAGIC.length, bytes };
  });
  return {
    location,
    key,
    size,
    format: 'parquet',
    header: columnNames(metadata),
    dataStart: MAGIC.length,
    parquet: { rows: Number(metadata.num_rows), rowGroups },
  };
}

export function columnNames(metadata: FileMetaData): string[] {
  return parquetSchema(metadata).children.map((child) => child.element.name);
}

/** Where a row group is read from: the object, its footer, and its name for errors. */
export interface ParquetFile {
  source: ByteSource;
  size: number;
  metadata: FileMetaData;
  key: string;
}

/**
 * One row group's columns, decoded (the unit of reading), in the order of `names`. A page that does
 * not decode is the input's fault (400, naming the row group); a failed read is the store's.
 */
export async function readRowGroup(
  parquet: ParquetFile,
  group: { index: number; rowStart: number; rows: number },
  names: readonly string[],
): Promise<ArrayLike<unknown>[]> {
  const pieces = new Map<string, { start: number; data: DecodedArray }[]>(names.map((name) => [name, []]));
  const reads = asyncBufferOf(parquet.source, parquet.size);
  let readError: unknown;
  const file: AsyncBuffer = {
    byteLength: reads.byteLength,
    slice: (start, end) =>
      Promise.resolve(reads.slice(start, end)).catch((err: unknown) => {
        readError ??= err;
        throw err;
      }),
  };
  try {
    await parquetRead({
      file,
      metadata: parquet.metadata,
      rowStart: group.rowStart,
      rowEnd: group.rowStart + group.rows,
      columns: [...names],
      compressors: COMPRESSORS,
      onChunk: ({ columnName, columnData, rowStart: start }) => {
        pieces.get(columnName)?.push({ start, data: columnData });
      },
    });
  } catch (err) {
    if (readError !== undefined) throw readError;
    throw new BadRequestError(
      `${parquet.key}: row group ${group.index} does not decode as Parquet (${(err as Error).message})`,
    );
  }
  return names.map((name) => joinPieces(pieces.get(name) ?? [], group.rowStart, group.rows));
}

/** A column's decoded pieces as one array of the group's rows (the common single piece as is). */
function joinPieces(
  pieces: { start: number; data: DecodedArray }[],
  rowStart: number,
  rows: number,
): ArrayLike<unknown> {
  const [only] = pieces;
  if (pieces.length === 1 && only !== undefined && only.start === rowStart && only.data.length === rows) {
    return only.data;
  }
  const joined = new Array<unknown>(rows).fill(null);
  for (const { start, data } of pieces) {
    for (let i = 0; i < data.length; i++) {
      const row = start - rowStart + i;
      if (row >= 0 && row < rows) joined[row] = data[i];
    }
  }
  return joined;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A Parquet value as the tabular parser takes a cell: int64 (BigInt) as a number when it is one
 * exactly, timestamps and dates as ISO text (as a CSV cell would be), null as null.
 */
export function cellOf(value: unknown, column: string): unknown {
  if (value === undefined || value === null) return null;
  switch (typeof value) {
    case 'number':
    case 'string':
    case 'boolean':
      return value;
    case 'bigint':
      if (value > MAX_SAFE || value < -MAX_SAFE) {
        throw new BadRequestError(
          `column "${column}": the int64 ${value} is beyond ±2^53 and has no exact number value`,
        );
      }
      return Number(value);
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) {
    throw new BadRequestError(`column "${column}": expected a number or text, got binary data`);
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return Array.from(value as ArrayLike<unknown>, (item) => cellOf(item, column));
  }
  return value;
}
