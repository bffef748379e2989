import { spawnSync } from 'node:child_process';
import path from 'node:path';

export type Block = Record<string, unknown>;
export interface TerraformFile {
  resource: Record<string, Record<string, Block[]>>;
  variable?: Record<string, Block[]>;
  locals?: Block[];
  data?: Record<string, Record<string, Block[]>>;
  output?: Record<string, Block[]>;
}

/** One .tf file as @cdktf/hcl2json reads it (in a child process: see hcl-to-json.cjs). */
export function parseTerraform(file: string): TerraformFile {
  const run = spawnSync(process.execPath, [path.join(__dirname, 'hcl-to-json.cjs'), file], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`hcl2json failed on ${file}: ${run.stderr}`);
  const parsed = (JSON.parse(run.stdout) as Record<string, TerraformFile>)[path.basename(file)];
  if (parsed === undefined) throw new Error(`hcl2json returned nothing for ${file}`);
  return parsed;
}
