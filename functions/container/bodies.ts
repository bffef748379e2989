import { BadRequestError } from '../../shared/errors';

/**
 * SageMaker's other request formats, rewritten as the MLflow scoring JSON the core reads:
 * text/csv → `dataframe_split` (a first row of names only is the header), and
 * application/x-npy → `inputs` (one tensor, for a single-input model). Values are checked by the
 * core against the model's signature, as for any JSON body.
 */
export function csvToMlflow(body: string | Uint8Array | undefined): string {
  const text = typeof body === 'string' ? body : Buffer.from(body ?? new Uint8Array()).toString('utf8');
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length === 0) throw new BadRequestError('text/csv body: no rows');
  const rows = lines.map((line) => line.split(',').map((cell) => cell.trim().replace(/^"(.*)"$/, '$1')));
  const [first] = rows as [string[]];
  // Column names only: a row mixing names and numbers is data with a bad cell, reported as such.
  const header = first.every((cell) => cell !== '' && !Number.isFinite(Number(cell)));
  const width = first.length;
  const data = (header ? rows.slice(1) : rows).map((cells, index) => {
    const line = index + (header ? 2 : 1);
    if (cells.length !== width) {
      throw new BadRequestError(`text/csv line ${line}: ${cells.length} cells, expected ${width}`);
    }
    return cells.map((cell, column) => {
      if (cell === '') return null;
      const value = Number(cell);
      if (!Number.isFinite(value)) {
        throw new BadRequestError(
          `text/csv line ${line}, column ${column + 1}: expected a number, got ${JSON.stringify(cell)}`,
        );
      }
      return value;
    });
  });
  if (data.length === 0) throw new BadRequestError('text/csv body: a header but no rows');
  return JSON.stringify({ dataframe_split: header ? { columns: first, data } : { data } });
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const NPY_TYPES: Record<string, { bytes: number; read: (view: DataView, at: number) => number }> = {
  '<f4': { bytes: 4, read: (view, at) => view.getFloat32(at, true) },
  '<f8': { bytes: 8, read: (view, at) => view.getFloat64(at, true) },
  '<i4': { bytes: 4, read: (view, at) => view.getInt32(at, true) },
  '<i8': { bytes: 8, read: (view, at) => Number(view.getBigInt64(at, true)) },
  '|u1': { bytes: 1, read: (view, at) => view.getUint8(at) },
  '|b1': { bytes: 1, read: (view, at) => view.getUint8(at) },
};

export function npyToMlflow(body: string | Uint8Array | undefined): string {
  const bytes = Buffer.from(
    typeof body === 'string' ? Buffer.from(body, 'latin1') : (body ?? new Uint8Array()),
  );
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(NPY_MAGIC)) {
    throw new BadRequestError('application/x-npy body: not a .npy file (no \\x93NUMPY magic)');
  }
  const major = bytes[6] ?? 0;
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.subarray(start, start + headerLength).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? '';
  const type = NPY_TYPES[descr];
  if (type === undefined) {
    throw new BadRequestError(
      `application/x-npy dtype: expected one of ${Object.keys(NPY_TYPES).join(', ')}, got ${JSON.stringify(descr)}`,
    );
  }
  if (/'fortran_order':\s*True/.test(header))
    throw new BadRequestError('application/x-npy: fortran_order arrays are not supported');
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeText
    .split(',')
    .map((dim) => dim.trim())
    .filter((dim) => dim !== '')
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = bytes.subarray(start + headerLength);
  if (data.length !== count * type.bytes) {
    throw new BadRequestError(
      `application/x-npy: shape (${shape.join(', ')}) needs ${count * type.bytes} data bytes, got ${data.length}`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const flat = Array.from({ length: count }, (_, i) => type.read(view, i * type.bytes));
  return JSON.stringify({ inputs: nest(flat, shape) });
}

function nest(flat: number[], shape: number[]): unknown {
  if (shape.length <= 1) return shape.length === 0 ? flat[0] : flat;
  const [, ...inner] = shape;
  const size = inner.reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] ?? 0 }, (_, i) => nest(flat.slice(i * size, (i + 1) * size), inner));
}

/** `{"predictions": …}` as CSV: one line per row (a row of several values is comma-joined). */
export function predictionsToCsv(json: string): string | undefined {
  const predictions = (JSON.parse(json) as { predictions?: unknown }).predictions;
  if (!Array.isArray(predictions)) return undefined;
  const cell = (value: unknown) => (typeof value === 'string' ? JSON.stringify(value) : String(value));
  return `${predictions.map((row) => (Array.isArray(row) ? row.flat(Infinity).map(cell).join(',') : cell(row))).join('\n')}\n`;
}
