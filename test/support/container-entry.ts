import { execForm, readDockerfile, stageEnv } from './dockerfile';
import { ROOT, runToEnd, type Started, startUntil } from './processes';

/**
 * The image's entry started as the image starts it, without a Docker engine: the final stage's
 * ENTRYPOINT + CMD, its ENV, from a folder laid out like its WORKDIR (this checkout after
 * `npm run build`: dist/, node_modules/, samples/, package.json). `overrides` replace ENV values a
 * deployment sets (repository, stage, keys). Two are changed for a shared test machine: PORT=0
 * (a free port instead of the image's 8080) and HOST=127.0.0.1 (tests listen on loopback only).
 */
export async function startContainerEntry(
  overrides: Record<string, string>,
): Promise<Started & { base: string; command: string[]; env: Record<string, string> }> {
  const build = await runToEnd('npm', ['run', 'build', '--silent'], {}, 300_000);
  if (build.code !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
  const file = readDockerfile();
  const last = file.stages.length - 1;
  const command = [...(execForm(file, last, 'ENTRYPOINT') ?? []), ...(execForm(file, last, 'CMD') ?? [])];
  const [program, ...args] = command;
  if (program !== 'node') throw new Error(`expected the image to start node, got ${command.join(' ')}`);
  const env = { ...stageEnv(file, last), ...overrides, PORT: '0', HOST: '127.0.0.1' };
  const started = await startUntil(
    process.execPath,
    args,
    env,
    /listening on (http:\/\/127\.0\.0\.1:\d+)/,
    60_000,
    ROOT,
  );
  return { ...started, base: started.match[1] ?? '', command, env };
}
