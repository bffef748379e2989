import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './processes';

/** One Dockerfile instruction, continuation lines joined, in the stage it belongs to. */
export interface Instruction {
  keyword: string;
  args: string;
  stage: number;
}

export interface Dockerfile {
  instructions: Instruction[];
  /** FROM lines in order; the last is the image that runs. */
  stages: { from: string; name: string | undefined; flags: string[] }[];
  /** Global ARG defaults (before the first FROM). */
  args: Record<string, string>;
}

export function readDockerfile(file = path.join(ROOT, 'Dockerfile')): Dockerfile {
  const logical: string[] = [];
  let current = '';
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  const instructions: Instruction[] = [];
  const stages: Dockerfile['stages'] = [];
  const args: Record<string, string> = {};
  for (const line of logical) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const upper = keyword.toUpperCase();
    const text = rest.join(' ');
    if (upper === 'FROM') {
      const words = rest.filter((word) => !word.startsWith('--'));
      stages.push({
        from: words[0] ?? '',
        name: words[1]?.toUpperCase() === 'AS' ? words[2] : undefined,
        flags: rest.filter((word) => word.startsWith('--')),
      });
    }
    if (upper === 'ARG' && stages.length === 0) {
      const [name = '', value = ''] = text.split('=');
      args[name] = value;
    }
    instructions.push({ keyword: upper, args: text, stage: stages.length - 1 });
  }
  return { instructions, stages, args };
}

/** ENV of one stage (`KEY=value` pairs, several per line allowed; values without spaces). */
export function stageEnv(file: Dockerfile, stage: number): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args, stage: at } of file.instructions) {
    if (keyword !== 'ENV' || at !== stage) continue;
    for (const pair of args.split(/\s+/).filter(Boolean)) {
      const eq = pair.indexOf('=');
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** An exec-form (JSON array) instruction of one stage, e.g. ENTRYPOINT or CMD. */
export function execForm(file: Dockerfile, stage: number, keyword: string): string[] | undefined {
  const found = file.instructions.filter((i) => i.keyword === keyword && i.stage === stage).at(-1);
  if (found === undefined) return undefined;
  const json = found.args.slice(found.args.indexOf('['));
  return JSON.parse(json) as string[];
}
