/** Field names whose values are credentials or raw client input: never written to logs as they are. */
const SENSITIVE =
  /^(authorization|x-api-key|api[-_]?key|token|access[-_]?token|id[-_]?token|password|secret|cookie|set-cookie|body|inputs|data|instances|dataframe_(split|records))$/i;

/** A copy of log fields with sensitive values replaced, one level into nested objects (headers). */
export function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (SENSITIVE.test(key)) out[key] = '[redacted]';
    else if (
      value !== null &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      !(value instanceof Error)
    ) {
      const inner: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) inner[k] = SENSITIVE.test(k) ? '[redacted]' : v;
      out[key] = inner;
    } else out[key] = value;
  }
  return out;
}
