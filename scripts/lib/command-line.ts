/**
 * The CLI's command table machinery: each command declares its arguments and typed options once,
 * and parsing, per-command help and "did you mean" suggestions come from that declaration.
 * Built on node:util parseArgs: commander 15 and citty 0.2 are ESM-only (commander needs Node
 * 22.12), while this package is CommonJS and supports Node 20.19.
 */
import { parseArgs } from 'node:util';

/** A mistake in how the command was called: exit status 2 and a pointer to the help. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The command whose help the message should point at. */
    readonly command?: string,
  ) {
    super(message);
  }
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** One line for the help; for a string option, `value` names its argument. */
  description: string;
  value?: string;
  short?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string;
};

/** Options every command accepts. */
export const COMMON_OPTIONS = {
  json: { type: 'boolean', description: 'machine-readable output' },
  help: { type: 'boolean', short: 'h', description: 'this command’s help' },
} as const satisfies OptionSpecs;

export const REPOSITORY_OPTIONS = {
  repository: {
    type: 'string',
    value: 'URL',
    description: 'model repository (default: $MODEL_REPOSITORY or ./model-repository)',
  },
} as const satisfies OptionSpecs;

export const STAGE_OPTIONS = {
  stage: {
    type: 'string',
    value: 'STAGE',
    description: 'deployment stage (default: $MODELFLEET_STAGE or local)',
  },
} as const satisfies OptionSpecs;

export interface Command<C, O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** Positional arguments as shown in the usage line, e.g. `<model> <version>`. */
  args: string;
  summary: string;
  /** Extra lines for `<command> --help`: examples, defaults. */
  details?: string;
  options: O;
  run(
    call: { args: string[]; values: OptionValues<O> & OptionValues<typeof COMMON_OPTIONS> },
    context: C,
  ): Promise<void>;
}

/** Keeps each table entry's option types attached to its own `run`. */
export function defineCommand<C, const O extends OptionSpecs>(command: Command<C, O>): Command<C, O> {
  return command;
}

/** Levenshtein distance, for suggestions. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The closest candidate within a typo's reach (2 edits, or a prefix), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = name.startsWith(word) && word.length >= 3 ? 1 : editDistance(word, name);
    if (
      distance <= Math.max(1, Math.min(2, Math.floor(name.length / 3))) &&
      (best === undefined || distance < best.distance)
    )
      best = { name, distance };
  }
  return best?.name;
}

/**
 * Parses one command's arguments: unknown options get a suggestion, a string option without its
 * value and a value given to a flag are named, all as UsageError.
 */
export function parseCommandArgs<O extends OptionSpecs>(
  command: { name: string; options: O },
  argv: string[],
): { args: string[]; values: OptionValues<O> & OptionValues<typeof COMMON_OPTIONS> } {
  const options: OptionSpecs = { ...COMMON_OPTIONS, ...command.options };
  const known = Object.keys(options);
  const loose = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  for (const token of loose.tokens) {
    if (token.kind !== 'option' || known.includes(token.name)) continue;
    const guess = closest(token.name, known);
    throw new UsageError(
      `${command.name}: unknown option ${token.rawName}${guess === undefined ? '' : `; did you mean --${guess}?`}`,
      command.name,
    );
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { args: positionals, values: values as OptionValues<O> };
  } catch (err) {
    const code = (err as { code?: string }).code;
    const option = /'(-[^' ]+)/.exec((err as Error).message)?.[1] ?? '';
    const message =
      code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
        ? /argument missing/.test((err as Error).message)
          ? `${option} needs a value`
          : `${option} is a switch and takes no value`
        : (err as Error).message;
    throw new UsageError(`${command.name}: ${message}`, command.name);
  }
}

/** `modelfleet <command> --help`. */
export function commandHelp(program: string, command: Command<unknown, OptionSpecs>): string {
  const options: OptionSpecs = { ...command.options, ...COMMON_OPTIONS };
  const rows = Object.entries(options).map(([name, spec]) => [
    `${spec.short === undefined ? '    ' : `-${spec.short}, `}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`,
    spec.description,
  ]);
  const width = Math.max(...rows.map(([left]) => left?.length ?? 0));
  return [
    `usage: ${program} ${command.name}${command.args === '' ? '' : ` ${command.args}`} [options]`,
    '',
    command.summary,
    ...(command.details === undefined ? [] : ['', command.details]),
    '',
    'options:',
    ...rows.map(([left = '', right = '']) => `  ${left.padEnd(width)}  ${right}`),
  ].join('\n');
}

/** The overview: one line per command. */
export function programHelp(
  program: string,
  commands: readonly Command<unknown, OptionSpecs>[],
  footer: string,
): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    `usage: ${program} <command> [arguments] [options]`,
    '',
    'commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    `"${program} <command> --help" shows a command's arguments and options.`,
    footer,
  ].join('\n');
}

/**
 * Where the command name is in argv: the first word that is not an option or the value of a
 * common string option given before the command (`modelfleet --stage prod promote …`).
 */
export function splitCommand(
  argv: readonly string[],
  leadingStringOptions: readonly string[],
): { command: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? '';
    if (word === '--') break;
    if (!word.startsWith('-')) return { command: word, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    if (leadingStringOptions.includes(word.replace(/^--/, ''))) i++;
  }
  return { command: undefined, rest: [...argv] };
}
