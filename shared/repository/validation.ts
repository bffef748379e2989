import type * as z from 'zod';

/** Turns schema issues into one line per problem, each naming the path, e.g. `variants[1].weight: …`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path
        .map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i === 0 ? '' : '.'}${String(part)}`))
        .join('');
      return `${path || '(root)'}: ${issue.message}`;
    })
    .join('; ');
}

/** Parses `value` with `schema`, throwing `makeError(message)` that names every bad field. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, makeError: (message: string) => Error): T {
  // jitless: zod would otherwise compile each schema to a function on its first parse (≈ 4 ms for
  // the deployment schema, on the cold start's critical path); these documents are parsed rarely.
  const result = schema.safeParse(value, { jitless: true });
  if (!result.success) throw makeError(formatIssues(result.error.issues));
  return result.data;
}

/**
 * `parseWith` behind a hand-written acceptor: a document `accepts` says is valid is returned as it
 * is, without loading the schema library; anything else goes to the zod schema, which accepts it
 * after all or throws its usual message. `accepts` may refuse what zod would take (it then merely
 * costs the slow path) but must never take what zod refuses: test/core/quick-checks.test.ts
 * compares both on thousands of generated documents.
 */
export function parseChecked<T>(
  value: unknown,
  accepts: (value: unknown) => value is T,
  schema: () => z.ZodType<T>,
  makeError: (message: string) => Error,
): T {
  if (accepts(value)) return value;
  return parseWith(schema(), value, makeError);
}
