import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execForm, readDockerfile, stageEnv } from '../support/dockerfile';
import { ROOT } from '../support/processes';

/**
 * The Dockerfile, checked for structure (no Docker engine or hadolint build installs here: see
 * docs/architecture.md). The image's entry is run as a process by the conformance suite
 * (test/conformance/conformance.test.ts, "container image entry").
 */
const file = readDockerfile();
const last = file.stages.length - 1;
const of = (keyword: string, stage = last) =>
  file.instructions.filter((i) => i.keyword === keyword && i.stage === stage).map((i) => i.args);

describe('Dockerfile', () => {
  it('builds in stages on a pinned slim Node 22 image, x64 only', () => {
    expect(file.stages.length).toBeGreaterThanOrEqual(3);
    const base = file.args['NODE_IMAGE'] ?? '';
    // An exact release (major.minor.patch), never a floating tag such as node:22 or latest.
    expect(base).toMatch(/^node:22\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    for (const stage of file.stages) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile's ARG syntax, not a JS template.
      expect(stage.from).toBe('${NODE_IMAGE}');
      expect(stage.flags).toContain('--platform=linux/amd64');
    }
  });

  it('runs as an unprivileged numeric user, with a health check and the server as entry', () => {
    const user = of('USER').at(-1) ?? '';
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    expect(of('HEALTHCHECK').at(-1)).toMatch(/CMD \["node", "dist\/scripts\/healthcheck\.js"\]$/);
    expect(existsSync(path.join(ROOT, 'scripts', 'healthcheck.ts'))).toBe(true);
    expect(execForm(file, last, 'ENTRYPOINT')).toEqual(['node', 'dist/scripts/serve.js']);
    // SageMaker runs `docker run <image> serve`: the default command is the same word.
    expect(execForm(file, last, 'CMD')).toEqual(['serve']);
    const env = stageEnv(file, last);
    expect(env).toMatchObject({ HOST: '0.0.0.0', NODE_ENV: 'production' });
    expect(of('EXPOSE')).toEqual([env['PORT']]);
    // No credentials baked in.
    for (const name of Object.keys(env))
      expect(name).not.toMatch(/KEY|SECRET|PASSWORD|TOKEN|CONNECTION_STRING/);
  });

  it('ships production dependencies only, linux-x64 onnxruntime only, nothing fetched by URL', () => {
    expect(file.instructions.filter((i) => i.keyword === 'ADD')).toEqual([]);
    const runs = file.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    expect(runs.join('\n')).not.toMatch(/curl|wget|https?:\/\//);
    // The final stage's node_modules come from the stage that installed with --omit=dev.
    const copies = of('COPY');
    const modules = copies.find((args) => args.includes('node_modules')) ?? '';
    const from = /--from=(\S+)/.exec(modules)?.[1];
    const source = file.stages.findIndex((stage) => stage.name === from);
    expect(source).toBeGreaterThanOrEqual(0);
    const install = of('RUN', source).join('\n');
    expect(install).toMatch(/npm ci --omit=dev/);
    for (const dropped of ['darwin', 'win32', 'linux/arm64']) {
      expect(install).toContain(`node_modules/onnxruntime-node/bin/napi-v6/${dropped}`);
    }
    // From the build stage only its output: its node_modules hold the dev dependencies.
    const build = file.stages.findIndex((stage) => stage.name === 'build');
    for (const copy of copies.filter((args) => args.includes('--from=build'))) {
      expect(copy).not.toMatch(/node_modules/);
    }
    expect(of('RUN', build).join('\n')).toMatch(/npm run build/);
    // No install script runs (onnxruntime-node's downloads CUDA files): .npmrc is copied first.
    expect(of('COPY', source).join('\n')).toContain('.npmrc');
    expect(readFileSync(path.join(ROOT, '.npmrc'), 'utf8')).toMatch(/^ignore-scripts=true$/m);
  });

  it('sends the build only what its COPY lines use (.dockerignore starts from nothing)', () => {
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const allowed = ignore
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    expect(allowed).not.toContain('node_modules');
    expect(allowed).not.toContain('dist');
    const contextSources = file.instructions
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const source of contextSources) {
      expect(allowed).toContain(source.replace(/\/$/, ''));
      expect(existsSync(path.join(ROOT, source))).toBe(true);
    }
  });
});
