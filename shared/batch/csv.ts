/**
 * One CSV record per line (RFC 4180 quoting: "a,b" and "" for a quote inside quotes). A quoted
 * field may not run past the end of its line: batch inputs are split into byte ranges at line
 * breaks, so a line break inside a field would make the result depend on where a chunk starts.
 */
export class CsvRowError extends Error {
  override name = 'CsvRowError';
}

export function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    if (line.charCodeAt(i) === 34) {
      let cell = '';
      let from = i + 1;
      for (;;) {
        const quote = line.indexOf('"', from);
        if (quote === -1) {
          throw new CsvRowError(
            `column ${cells.length + 1}: a quoted field runs past the end of the line (line breaks inside fields are not supported)`,
          );
        }
        cell += line.slice(from, quote);
        if (line.charCodeAt(quote + 1) === 34) {
          cell += '"';
          from = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
      cells.push(cell);
      if (i === line.length) return cells;
      if (line.charCodeAt(i) !== 44) {
        throw new CsvRowError(`column ${cells.length}: expected a comma after the closing quote`);
      }
      i++;
      continue;
    }
    const comma = line.indexOf(',', i);
    const cell = comma === -1 ? line.slice(i) : line.slice(i, comma);
    if (cell.includes('"')) {
      throw new CsvRowError(`column ${cells.length + 1}: a quote inside an unquoted field`);
    }
    cells.push(cell);
    if (comma === -1) return cells;
    i = comma + 1;
  }
}

/** A cell as the model's parsers expect it: numbers as numbers, an empty cell as null. */
export function cellValue(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const number = Number(trimmed);
  return Number.isNaN(number) && trimmed !== 'NaN' ? text : number;
}
