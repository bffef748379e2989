/**
 * modelfleet-edge under Node on devices without onnxruntime-node binaries (linux-arm/v7, musl, …):
 * the same loader and checks on onnxruntime-web's WASM backend. Repositories may be http(s) URLs
 * or local folders (file: URLs or paths).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as ort from 'onnxruntime-web';
import type { FetchLike, ResponseStore } from './fetch-cache';
import { type EdgeModel, type LoadOptions, loadModel } from './model';

export type { EdgeModel, InferResponse, LoadOptions, Verification } from './model';
export { pickTarget } from './model';

export interface NodeLoadOptions extends LoadOptions {
  /** Folder holding ort-wasm-simd-threaded.{mjs,wasm} (default: beside this module). */
  wasmPaths?: string;
  /** Where verified copies are kept between loads, if anywhere. */
  store?: ResponseStore;
}

export async function load(options: NodeLoadOptions): Promise<EdgeModel> {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = options.wasmPaths ?? `${pathToFileURL(__dirname).href}/`;
  const repository =
    options.repository === undefined || /^[a-z][a-z0-9+.-]*:/i.test(options.repository)
      ? options.repository
      : pathToFileURL(path.resolve(options.repository)).href;
  return loadModel(
    { ...options, ...(repository === undefined ? {} : { repository }) },
    {
      ort,
      fetch: fetchFileOrHttp,
      ...(options.store === undefined ? {} : { store: options.store }),
      executionProviders: ['wasm'],
    },
  );
}

/** Node's fetch has no file: scheme; a device's repository is often a folder. */
const fetchFileOrHttp: FetchLike = async (url, init) => {
  if (!url.startsWith('file:')) return fetch(url, init);
  try {
    return new Response(await readFile(new URL(url)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Response(null, { status: 404 });
    throw err;
  }
};
