import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { projectRoot } from './paths';

/**
 * Builds modelfleet-edge (edge/) with esbuild. The core's inference code imports onnxruntime-node
 * (shared/serving/onnx.ts); in these bundles that import, and the edge's own onnxruntime-web one,
 * resolve to one onnxruntime-web build, so the edge runs the server's very parsing, inference and
 * sample comparison on the WASM (or WebGPU) backend, with no native binary.
 */

export const EDGE_MODULE = 'modelfleet-edge.mjs';
export const EDGE_NODE_MODULE = 'modelfleet-edge.cjs';
/**
 * What the browser bundle loads beside it: onnxruntime-web's WebGPU build (which also runs on the
 * CPU) fetches its Emscripten glue and WASM from `env.wasm.wasmPaths` when that is set.
 */
export const BROWSER_WASM = ['ort-wasm-simd-threaded.asyncify.mjs', 'ort-wasm-simd-threaded.asyncify.wasm'];
/** Node's build loads its WASM through the Emscripten glue, so both files go beside it. */
export const NODE_WASM = ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];

function ortDist(): string {
  return path.join(projectRoot(), 'node_modules', 'onnxruntime-web', 'dist');
}

function onnxruntimeAs(file: string): Plugin {
  return {
    name: 'onnxruntime-web',
    setup(builder) {
      builder.onResolve({ filter: /^onnxruntime-(node|web)$/ }, () => ({ path: file }));
    },
  };
}

export interface EdgeBuild {
  /** The module file (without the WASM). */
  module: string;
  moduleBytes: number;
  wasm: string[];
}

/** The browser/worker module (ES module) and its WASM file, into `outDir`. */
export async function buildEdgeBrowser(outDir: string): Promise<EdgeBuild> {
  mkdirSync(outDir, { recursive: true });
  const module = path.join(outDir, EDGE_MODULE);
  await build({
    entryPoints: [path.join(projectRoot(), 'edge', 'browser.ts')],
    outfile: module,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    banner: { js: 'const __modelfleetEdgeUrl = import.meta.url;' },
    plugins: [onnxruntimeAs(path.join(ortDist(), 'ort.webgpu.bundle.min.mjs'))],
  });
  return { module, moduleBytes: statSync(module).size, wasm: copyWasm(BROWSER_WASM, outDir) };
}

/** The Node module (CommonJS) and the WASM files it loads, into `outDir`. */
export async function buildEdgeNode(outDir: string): Promise<EdgeBuild> {
  mkdirSync(outDir, { recursive: true });
  const module = path.join(outDir, EDGE_NODE_MODULE);
  await build({
    entryPoints: [path.join(projectRoot(), 'edge', 'node.ts')],
    outfile: module,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: ['node20'],
    logLevel: 'silent',
    plugins: [onnxruntimeAs(path.join(ortDist(), 'ort.node.min.js'))],
  });
  return { module, moduleBytes: statSync(module).size, wasm: copyWasm(NODE_WASM, outDir) };
}

function copyWasm(files: readonly string[], outDir: string): string[] {
  return files.map((file) => {
    const target = path.join(outDir, file);
    copyFileSync(path.join(ortDist(), file), target);
    return target;
  });
}

/** The example page (examples/edge/) into `outDir`; it imports the module beside it. */
export async function buildEdgePage(outDir: string): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const examples = path.join(projectRoot(), 'examples', 'edge');
  await build({
    entryPoints: [path.join(examples, 'page.ts')],
    outfile: path.join(outDir, 'page.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'edge-module-beside',
        setup(builder) {
          builder.onResolve({ filter: /\/edge\/browser$/ }, () => ({
            path: `./${EDGE_MODULE}`,
            external: true,
          }));
        },
      },
    ],
  });
  // The same page with the module inlined as one classic script, for file:// (see index.html).
  await build({
    entryPoints: [path.join(examples, 'page.ts')],
    outfile: path.join(outDir, 'page-file.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    banner: { js: 'const __modelfleetEdgeUrl = undefined;' },
    plugins: [onnxruntimeAs(path.join(ortDist(), 'ort.webgpu.bundle.min.mjs'))],
  });
  copyFileSync(path.join(examples, 'index.html'), path.join(outDir, 'index.html'));
}

/**
 * edge-files.js: every file under models/ and the WASM as base64, for the page opened from
 * file://, where it can neither fetch nor import. The page still verifies them as fetched ones.
 */
export function writeEmbeddedFiles(outDir: string): number {
  const files: Record<string, string> = {};
  const add = (relative: string) => {
    files[relative] = readFileSync(path.join(outDir, ...relative.split('/'))).toString('base64');
  };
  const walk = (relative: string) => {
    for (const entry of readdirSync(path.join(outDir, relative), { withFileTypes: true })) {
      const child = `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else add(child);
    }
  };
  walk('models');
  for (const wasm of BROWSER_WASM.filter((file) => file.endsWith('.wasm'))) add(wasm);
  const file = path.join(outDir, 'edge-files.js');
  writeFileSync(file, `globalThis.modelfleetEdgeFiles = ${JSON.stringify(files)};\n`);
  return statSync(file).size;
}
