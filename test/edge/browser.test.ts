import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { writeEmbeddedFiles } from '../../scripts/lib/edge-build';
import { exportEdge } from '../../scripts/lib/edge-commands';
import type { Manifest } from '../../shared/repository/manifest';
import { compareOutputs } from '../../shared/tensor/compare';
import { json, postJson, removeTempDirs, sampleApp, tempDir } from '../support/fixtures';
import { type StaticServer, serveFolder } from '../support/static-server';

/**
 * The exported example page in headless Chromium (Debian's chromium, installed by .ci/run), served
 * by a plain static server on 127.0.0.1: each bundled sample verified and run in the page, equal to
 * the server's answer within the manifest tolerance; a tampered artifact refused with a visible error.
 */

const ARTIFACTS = path.join(__dirname, '..', '..', 'artifacts', 'edge');
const CHROMIUM = '/usr/bin/chromium';
const SAMPLES = ['iris', 'house-price'];

let out: string;
let server: StaticServer;
let context: BrowserContext;
let page: Page;
let serverApp: Awaited<ReturnType<typeof sampleApp>>;
const pageErrors: string[] = [];
const pageRequests: string[] = [];

beforeAll(async () => {
  serverApp = await sampleApp();
  out = tempDir('modelfleet-edge-export-');
  for (const model of SAMPLES) await exportEdge(serverApp.repository, { model, stage: 'local', out });
  server = await serveFolder(out);
  context = await chromium.launchPersistentContext(tempDir('modelfleet-chromium-'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('request', (request) => pageRequests.push(request.url()));
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await server?.close();
  removeTempDirs();
});

// Expressions evaluated in the page (this project's types have no DOM).
const STATE = 'document.body.dataset.state';

/** The page's state once loading is over: "ready", or "error" with the text it shows. */
async function settled(): Promise<string> {
  await page.waitForFunction(`['ready', 'error'].includes(${STATE})`, null, { timeout: 60_000 });
  const state = String(await page.evaluate(STATE));
  return state === 'error' ? `error: ${await page.textContent('#error')}` : state;
}

async function verification(): Promise<Record<string, unknown>> {
  return JSON.parse(String(await page.evaluate('document.body.dataset.verification')));
}

function manifestOf(model: string): Manifest {
  return JSON.parse(readFileSync(path.join(out, 'models', model, '1', 'manifest.json'), 'utf8'));
}

describe('the edge example page in headless Chromium', () => {
  it('verifies and runs each bundled sample, equal to the server within the manifest tolerance', async () => {
    await page.goto(`${server.origin}/index.html`);
    for (const model of SAMPLES) {
      if ((await page.inputValue('#model')) !== model) await page.selectOption('#model', model);
      expect(await settled()).toBe('ready');
      expect(await page.textContent('#status')).toMatch(
        new RegExp(`^Verified ${model} version 1 \\(variant primary\\)`),
      );
      const manifest = manifestOf(model);
      expect(await verification()).toMatchObject({
        version: 1,
        sha256: manifest.artifact.sha256,
        sampleChecked: true,
      });

      await page.click('#run');
      await page.waitForFunction(`${STATE} === 'predicted'`);
      const outputs = JSON.parse((await page.textContent('#outputs')) ?? '[]');
      const request = { inputs: manifest.sample?.inputs };
      const response = await serverApp.app.handle(postJson(`/v2/models/${model}/infer`, request));
      expect(response.status).toBe(200);
      const serverOutputs = json(response)['outputs'] as { name: string; shape: number[]; data: unknown[] }[];
      const tolerance = manifest.sample?.tolerance ?? 0;
      expect(compareOutputs(serverOutputs, outputs, tolerance)).toEqual([]);
      expect(outputs.map((o: { name: string }) => o.name)).toEqual(serverOutputs.map((o) => o.name));
      expect(await page.textContent('#took')).toMatch(/^\d+\.\d\d ms$/);
      await page.screenshot({ path: path.join(ARTIFACTS, `edge-${model}.png`), fullPage: true });
    }
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('revalidates the kept artifact by ETag on the next visit', async () => {
    await page.reload();
    expect(await settled()).toBe('ready');
    expect(await verification()).toMatchObject({ artifactSource: 'revalidated' });
    expect(server.requests).toContainEqual({ path: '/models/iris/1/model.onnx', status: 304 });
  }, 60_000);

  it('loads from the kept, re-verified copies when the network is gone', async () => {
    await context.setOffline(true);
    try {
      const source = await page.evaluate(`(async () => {
        const edge = await import('/modelfleet-edge.mjs');
        const model = await edge.load({ repository: location.origin + '/models/', model: 'iris', stage: 'local' });
        return model.verification.artifactSource;
      })()`);
      expect(source).toBe('offline');
    } finally {
      await context.setOffline(false);
    }
  }, 60_000);

  it('works from file:// with no server at all', async () => {
    await page.goto(pathToFileURL(path.join(out, 'index.html')).href);
    expect(await settled()).toBe('ready');
    const manifest = manifestOf('iris');
    expect(await verification()).toMatchObject({ sha256: manifest.artifact.sha256, sampleChecked: true });
    await page.click('#run');
    await page.waitForFunction(`${STATE} === 'predicted'`);
    const outputs = JSON.parse((await page.textContent('#outputs')) ?? '[]');
    expect(compareOutputs(manifest.sample?.outputs ?? [], outputs, manifest.sample?.tolerance ?? 0)).toEqual(
      [],
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'edge-file-url.png'), fullPage: true });
  }, 60_000);

  it('refuses a tampered artifact with a visible error, and runs nothing', async () => {
    const file = path.join(out, 'models', 'iris', '1', 'model.onnx');
    const bytes = readFileSync(file);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    await page.goto(`${server.origin}/index.html`);
    expect(await settled()).toMatch(/^error: /);
    const error = page.locator('#error');
    expect(await error.isVisible()).toBe(true);
    expect(await error.textContent()).toMatch(
      /^refused: iris version 1: model\.onnx sha256 is [0-9a-f]{64}, the manifest says/,
    );
    expect(await page.isDisabled('#run')).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, 'edge-tampered.png'), fullPage: true });

    // The copy embedded for file:// is verified the same way.
    writeEmbeddedFiles(out);
    await page.goto(pathToFileURL(path.join(out, 'index.html')).href);
    expect(await settled()).toMatch(/^error: refused: iris version 1: model\.onnx sha256 is /);
  }, 60_000);

  it('fetched nothing but the static folder (no CDN, no other host)', () => {
    const folder = pathToFileURL(out).href;
    expect(
      pageRequests.filter((url) => !url.startsWith(`${server.origin}/`) && !url.startsWith(`${folder}/`)),
    ).toEqual([]);
    expect(server.requests.map((r) => r.path)).toEqual(
      expect.arrayContaining([
        '/index.html',
        '/page.js',
        '/modelfleet-edge.mjs',
        '/ort-wasm-simd-threaded.asyncify.wasm',
      ]),
    );
  });
});
