/**
 * The example page of modelfleet-edge: pick an exported model, see how it was verified, type or
 * paste an OIP request and see the prediction and its time. Built into page.js by `export-edge`,
 * with the module imported from ./modelfleet-edge.mjs beside it.
 */
import { type EdgeModel, load } from '../../edge/browser';

/** onnxruntime-web's WASM as export-edge copies it beside the module. */
const WASM_FILE = 'ort-wasm-simd-threaded.asyncify.wasm';

interface ExportIndex {
  stage: string;
  models: { name: string; version?: number; description?: string }[];
  signingKeys?: Record<string, string>;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const modelSelect = $<HTMLSelectElement>('model');
const userInput = $<HTMLInputElement>('user');
const statusBox = $<HTMLDivElement>('status');
const errorBox = $<HTMLDivElement>('error');
const requestBox = $<HTMLTextAreaElement>('request');
const runButton = $<HTMLButtonElement>('run');
const resultBox = $<HTMLDivElement>('result');

const pageBase = new URL('./', location.href).href;
const repository = new URL('./models/', pageBase).href;

/**
 * From file:// a page may neither fetch nor import modules, so `export-edge` also writes
 * edge-files.js (classic script): the folder's files as base64, read here instead of fetched.
 */
const embedded = (globalThis as { modelfleetEdgeFiles?: Record<string, string> }).modelfleetEdgeFiles;

function embeddedBytes(relative: string): Uint8Array | undefined {
  const base64 = embedded?.[relative];
  if (base64 === undefined) return undefined;
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function readFromFolder(url: string): Promise<Response> {
  if (embedded === undefined) return fetch(url);
  const bytes = url.startsWith(pageBase) ? embeddedBytes(url.slice(pageBase.length)) : undefined;
  return bytes === undefined
    ? new Response(null, { status: 404 })
    : new Response(bytes as Uint8Array<ArrayBuffer>);
}

let wasmBinary: Uint8Array | undefined;
let index: ExportIndex | undefined;
let current: EdgeModel | undefined;

function showError(err: unknown): void {
  errorBox.textContent = err instanceof Error ? err.message : String(err);
  errorBox.hidden = false;
  document.body.dataset['state'] = 'error';
}

async function pick(): Promise<void> {
  const entry = index?.models.find((model) => model.name === modelSelect.value);
  if (index === undefined || entry === undefined) return;
  errorBox.hidden = true;
  resultBox.hidden = true;
  runButton.disabled = true;
  statusBox.textContent = `Loading and verifying ${entry.name}…`;
  document.body.dataset['state'] = 'loading';
  await current?.release();
  current = undefined;
  try {
    const user = userInput.value.trim();
    current = await load({
      repository,
      model: entry.name,
      stage: index.stage,
      ...(entry.version === undefined ? {} : { version: entry.version }),
      ...(user === '' ? {} : { stickyKey: user }),
      ...(index.signingKeys === undefined ? {} : { signingKeys: index.signingKeys }),
      ...(embedded === undefined ? {} : { fetch: readFromFolder, offline: false }),
      ...(wasmBinary === undefined ? {} : { wasmBinary }),
    });
  } catch (err) {
    statusBox.textContent = '';
    showError(err);
    return;
  }
  const v = current.verification;
  statusBox.textContent =
    `Verified ${current.name} version ${current.version} (variant ${current.variant}${current.sticky ? ', sticky' : ''}): ` +
    `sha256 ${v.sha256.slice(0, 12)}…, ${v.signedBy === undefined ? 'unsigned' : `signed by ${v.signedBy}`}, ` +
    `${v.sampleChecked ? `sample matched in ${v.sampleRunMs?.toFixed(1)} ms` : 'no sample'}; ` +
    `artifact ${v.artifactSource}; loaded in ${current.loadMs.toFixed(0)} ms.`;
  const sample = current.manifest.sample;
  if (sample !== undefined) requestBox.value = JSON.stringify({ inputs: sample.inputs }, null, 2);
  runButton.disabled = false;
  document.body.dataset['state'] = 'ready';
  document.body.dataset['verification'] = JSON.stringify({ version: current.version, ...v });
}

async function run(): Promise<void> {
  if (current === undefined) return;
  errorBox.hidden = true;
  const started = performance.now();
  try {
    const response = await current.infer(requestBox.value);
    $('took').textContent = `${(performance.now() - started).toFixed(2)} ms`;
    $('served').textContent =
      `${response.model_name} version ${response.model_version} (${response.parameters.variant})`;
    $('outputs').textContent = JSON.stringify(response.outputs, null, 2);
    resultBox.hidden = false;
    document.body.dataset['state'] = 'predicted';
  } catch (err) {
    showError(err);
  }
}

async function start(): Promise<void> {
  if (embedded !== undefined) wasmBinary = embeddedBytes(WASM_FILE);
  const response = await readFromFolder(new URL('./models/index.json', pageBase).href);
  if (!response.ok) throw new Error(`models/index.json: HTTP ${response.status}`);
  index = (await response.json()) as ExportIndex;
  for (const model of index.models) {
    const option = document.createElement('option');
    option.value = model.name;
    option.textContent =
      model.version === undefined ? model.name : `${model.name} (version ${model.version})`;
    modelSelect.append(option);
  }
  modelSelect.addEventListener('change', () => void pick());
  userInput.addEventListener('change', () => void pick());
  runButton.addEventListener('click', () => void run());
  await pick();
}

start().catch(showError);
