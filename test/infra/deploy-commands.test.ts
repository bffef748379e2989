import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from '../support/processes';

const scripts = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<
  string,
  string
>;

describe('one deploy command per cloud', () => {
  it.each([
    ['deploy:azure', 'azure', 'bash infra/azure/deploy.sh'],
    ['deploy:gcp', 'gcp', 'terraform -chdir=infra/gcp apply'],
  ])('%s stages the package offline first, then hands over to the cloud tool', (name, cloud, tool) => {
    expect(scripts[name]).toBe(`node scripts/stage-function.cjs ${cloud} && ${tool}`);
    expect(scripts[`stage:${cloud}`]).toBe(`node scripts/stage-function.cjs ${cloud}`);
  });

  it('the Azure script parses, uploads the staged zips, and sends new code to the staging slot only', () => {
    const file = path.join(ROOT, 'infra', 'azure', 'deploy.sh');
    expect(spawnSync('bash', ['-n', file]).status).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^set -euo pipefail$/m);
    const inferenceUpload = text
      .split('\n')
      .filter((line) => line.includes('modelfleet.zip') && !line.includes('[ -f'));
    expect(inferenceUpload).toEqual([
      expect.stringContaining('--slot staging --src "$stage_dir/modelfleet.zip"'),
    ]);
    expect(text).toContain('--template-file "$here/main.json"');
  });

  it('the GCP stack reads the staged zips where the staging script writes them', () => {
    const variables = readFileSync(path.join(ROOT, 'infra', 'gcp', 'variables.tf'), 'utf8');
    expect(variables).toContain('default     = "../../.stage/gcp/modelfleet.zip"');
    expect(variables).toContain('default     = "../../.stage/gcp/guard.zip"');
  });
});
