/** JSON text of scalars, for metric lines written as strings (emf.ts, cloud-logging.ts). */

/** JSON's text for a number: what JSON.stringify prints (non-finite values become null). */
export function numberText(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

// Strings of plain characters need no escaping: JSON's text is the string in quotes.
const PLAIN = /^[\w .:/@+-]*$/;

/** JSON's text for a string: what JSON.stringify prints. */
export function quoted(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}
