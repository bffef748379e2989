import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { type BuildOptions, buildSync } from 'esbuild';
import { ROOT } from './processes';

/**
 * The server entry (scripts/serve.ts) and the inference worker, bundled from the sources by
 * esbuild into one folder, as tsc would lay them out for the pool (the worker file next to the
 * code that starts it): tests run the real entry in a child process without waiting for a tsc
 * build. The folder is under node_modules/ so that onnxruntime-node, left external, resolves.
 */
export interface ServerBundle {
  serve: string;
  worker: string;
  healthcheck: string;
}

let built: ServerBundle | undefined;

export function serverBundle(): ServerBundle {
  if (built !== undefined) return built;
  const dir = path.join(ROOT, 'node_modules', '.cache', 'modelfleet-tests', `server-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const common: BuildOptions = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['onnxruntime-node', '@aws-sdk/*', '@azure/*', '@google-cloud/*'],
    logLevel: 'error',
  };
  buildSync({
    ...common,
    entryPoints: [path.join(ROOT, 'scripts', 'serve.ts')],
    outfile: path.join(dir, 'serve.js'),
  });
  buildSync({
    ...common,
    entryPoints: [path.join(ROOT, 'shared', 'serving', 'inference-worker.ts')],
    outfile: path.join(dir, 'inference-worker.js'),
  });
  buildSync({
    ...common,
    entryPoints: [path.join(ROOT, 'scripts', 'healthcheck.ts')],
    outfile: path.join(dir, 'healthcheck.js'),
  });
  built = {
    serve: path.join(dir, 'serve.js'),
    worker: path.join(dir, 'inference-worker.js'),
    healthcheck: path.join(dir, 'healthcheck.js'),
  };
  return built;
}
