import { redactFields } from './redact';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Structured one-line JSON logs on stderr, so stdout stays free for metric events. */
export function createLogger(
  minimum: LogLevel = 'info',
  write: (line: string) => void = defaultWrite,
): Logger {
  const emit =
    (level: LogLevel) =>
    (message: string, fields: Record<string, unknown> = {}) => {
      if (RANK[level] < RANK[minimum]) return;
      write(JSON.stringify({ level, time: new Date().toISOString(), message, ...redactFields(fields) }));
    };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

function defaultWrite(line: string): void {
  process.stderr.write(`${line}\n`);
}

export const silentLogger: Logger = createLogger('error', () => {});

export function describeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { error: String(err) };
  return {
    error: err.message,
    errorName: err.name,
    ...(err.cause === undefined
      ? {}
      : { cause: err.cause instanceof Error ? err.cause.message : String(err.cause) }),
  };
}
