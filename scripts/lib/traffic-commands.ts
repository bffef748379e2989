/** The traffic commands' deployment changes (`canary`, `split`, `rollback`, `shadow`, `sticky`). */
import {
  type DeploymentConfig,
  rollback,
  setCanary,
  setShadow,
  setSticky,
  setVariants,
} from '../../shared/repository/deployment';
import { versionOf } from '../../shared/repository/names';
import { UsageError } from './command-line';

type Change = (current: DeploymentConfig | undefined) => DeploymentConfig;

export function expectArgs<const N extends readonly string[]>(
  command: string,
  args: string[],
  names: N,
): { [K in keyof N]: string } {
  if (args.length !== names.length) {
    throw new UsageError(
      `${command}: expected ${names.map((name) => `<${name}>`).join(' ')}, got ${args.length} argument(s)`,
      command,
    );
  }
  return args as unknown as { [K in keyof N]: string };
}

export function positiveInt(text: string, what: string): number {
  const version = versionOf(text);
  if (version === undefined)
    throw new UsageError(`${what}: expected a positive integer, got ${JSON.stringify(text)}`);
  return version;
}

export function canaryChange(args: string[], weightText: string | undefined, now: Date, by: string): Change {
  const [, versionText] = expectArgs('canary', args, ['model', 'version']);
  const version = positiveInt(versionText, 'version');
  if (weightText === undefined) throw new UsageError('canary: --weight N (0-100) is required', 'canary');
  if (!/^\d{1,3}$/.test(weightText) || Number(weightText) > 100) {
    throw new UsageError(`--weight: expected an integer from 0 to 100, got ${JSON.stringify(weightText)}`);
  }
  const weight = Number(weightText);
  return (current) => setCanary(current, version, weight, now, by);
}

export function splitChange(args: string[], now: Date, by: string): Change {
  if (args.length < 2) throw new UsageError('split: expected <model> NAME=VERSION:WEIGHT ...', 'split');
  const variants = args.slice(1).map((spec) => {
    const match = /^([a-z0-9][a-z0-9_-]{0,31})=([1-9]\d{0,8}):(\d{1,3})$/.exec(spec);
    if (match === null) {
      throw new UsageError(`split: expected NAME=VERSION:WEIGHT (e.g. b=2:30), got ${JSON.stringify(spec)}`);
    }
    return { name: match[1] ?? '', version: Number(match[2]), weight: Number(match[3]) };
  });
  return (current) => setVariants(current, variants, now, by);
}

export function rollbackChange(args: string[], now: Date, by: string): Change {
  expectArgs('rollback', args, ['model']);
  return (current) => rollback(current, now, by);
}

export function shadowChange(
  args: string[],
  options: { off?: boolean | undefined; rate?: string | undefined },
  now: Date,
  by: string,
): Change {
  if (options.off === true) {
    expectArgs('shadow', args, ['model']);
    return (current) => setShadow(current, undefined, now, by);
  }
  const [, versionText] = expectArgs('shadow', args, ['model', 'version']);
  const version = positiveInt(versionText, 'version');
  const rate = options.rate === undefined ? Number.NaN : Number(options.rate);
  if (!(rate >= 0 && rate <= 1)) {
    throw new UsageError(`--rate: expected a number from 0 to 1, got ${JSON.stringify(options.rate ?? '')}`);
  }
  return (current) => setShadow(current, { version, sampleRate: rate }, now, by);
}

export function stickyChange(
  args: string[],
  options: {
    off?: boolean | undefined;
    header?: string | undefined;
    field?: string | undefined;
    experiment?: string | undefined;
  },
  now: Date,
  by: string,
): Change {
  const [model] = expectArgs('sticky', args, ['model']);
  if (options.off === true) return (current) => setSticky(current, undefined, now, by);
  if ((options.header === undefined) === (options.field === undefined)) {
    throw new UsageError('sticky: give exactly one of --header NAME or --field NAME (or --off)', 'sticky');
  }
  const sticky = {
    from: options.header === undefined ? ('field' as const) : ('header' as const),
    key: options.header ?? options.field ?? '',
    experiment: options.experiment ?? model,
  };
  return (current) => setSticky(current, sticky, now, by);
}

export function describeVariants(list: DeploymentConfig['variants']): string {
  return list.map((v) => `${v.name} v${v.version} ${v.weight}%`).join(', ');
}

export function describeShadow(shadow: DeploymentConfig['shadow']): string {
  return shadow === undefined ? '-' : `v${shadow.version} on ${shadow.sampleRate * 100}% of requests`;
}

export function describeSticky(sticky: DeploymentConfig['sticky']): string {
  return sticky === undefined ? '-' : `by ${sticky.from} "${sticky.key}" (experiment ${sticky.experiment})`;
}

export function describeTraffic(config: DeploymentConfig): string {
  const lines = [`stage ${config.stage} of ${config.model}: ${describeVariants(config.variants)}`];
  if (config.shadow !== undefined) lines.push(`shadow: ${describeShadow(config.shadow)}`);
  if (config.sticky !== undefined) lines.push(`sticky ${describeSticky(config.sticky)}`);
  if (config.lastKnownGood !== undefined)
    lines.push(`rollback target: ${describeVariants(config.lastKnownGood)}`);
  return lines.join('\n');
}
