/**
 * modelfleet-edge for browsers and workers: onnxruntime-web's WASM backend, WebGPU where the
 * browser has it. The WASM file is loaded from this module's own folder (no CDN).
 */
import * as ort from 'onnxruntime-web';
import { browserCacheStore, type FetchLike } from './fetch-cache';
import { type EdgeModel, type LoadOptions, loadModel } from './model';

export type { EdgeModel, InferResponse, LoadOptions, Verification } from './model';
export { pickTarget } from './model';

/** Set by the bundle's banner to `import.meta.url` (scripts/lib/edge-build.ts). */
declare const __modelfleetEdgeUrl: string | undefined;

export interface BrowserLoadOptions extends LoadOptions {
  /** Folder of ort-wasm-*.wasm; default: the folder this module was loaded from. */
  wasmPaths?: string;
  /** Keep verified copies in the Cache API for offline use (default true). */
  offline?: boolean;
  /** Where documents and the artifact are read from (default: fetch). */
  fetch?: FetchLike;
  /**
   * onnxruntime-web's WASM itself, for pages that cannot fetch it (file://); the Emscripten glue
   * then comes from the bundle.
   */
  wasmBinary?: Uint8Array;
}

export async function load(options: BrowserLoadOptions): Promise<EdgeModel> {
  const moduleUrl = typeof __modelfleetEdgeUrl === 'string' ? __modelfleetEdgeUrl : undefined;
  const wasmPaths =
    options.wasmPaths ?? (moduleUrl === undefined ? undefined : new URL('./', moduleUrl).href);
  if (options.wasmBinary !== undefined) ort.env.wasm.wasmBinary = options.wasmBinary;
  else if (wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmPaths;
  // Threads need a cross-origin-isolated page (SharedArrayBuffer); one thread works on any host.
  ort.env.wasm.numThreads = isolated() ? Math.min(4, navigatorOf()?.hardwareConcurrency ?? 1) : 1;
  const store = options.offline === false ? undefined : await browserCacheStore();
  return loadModel(options, {
    ort,
    fetch: options.fetch ?? ((url, init) => fetch(url, init)),
    ...(store === undefined ? {} : { store }),
    executionProviders: navigatorOf()?.gpu === undefined ? ['wasm'] : ['webgpu', 'wasm'],
  });
}

function navigatorOf(): { gpu?: unknown; hardwareConcurrency?: number } | undefined {
  return (globalThis as { navigator?: { gpu?: unknown; hardwareConcurrency?: number } }).navigator;
}

function isolated(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}
