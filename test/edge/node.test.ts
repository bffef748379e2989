import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildEdgeNode, EDGE_NODE_MODULE } from '../../scripts/lib/edge-build';
import { IRIS_FEATURES, irisModel } from '../../scripts/lib/sample-models';
import { packageModel } from '../../shared/control/packaging';
import { promote, setCanary, setSticky } from '../../shared/repository/deployment';
import { ModelRepository } from '../../shared/repository/repository';
import { signManifest } from '../../shared/security/signing';
import { FsModelStore } from '../../shared/store';
import { routeRequest } from '../../shared/traffic/variant-pick';
import { CASES, type ConformanceCase } from '../conformance/cases';
import { removeTempDirs, sampleRepository, sampleRequest, tempDir } from '../support/fixtures';

/**
 * modelfleet-edge's Node build on onnxruntime-web's WASM backend, in a plain Node process that never
 * loads onnxruntime-node: the OIP conformance cases that apply to inference (no HTTP), the signature
 * policy, and the variant a sticky key gets, against the server's own answers.
 */

interface Job {
  load: Record<string, unknown>;
  request?: unknown;
}
interface JobResult {
  ok: boolean;
  info?: { name: string; version: number; variant: string; verification: Record<string, unknown> };
  response?: Record<string, unknown>;
  error?: { name: string; message: string; status?: number };
}

let edgeModule: string;
let repository: ModelRepository;
let root: string;

beforeAll(async () => {
  const out = tempDir('modelfleet-edge-node-');
  edgeModule = path.join(out, EDGE_NODE_MODULE);
  await buildEdgeNode(out);
  repository = await sampleRepository();
  root = new URL(repository.store.url).pathname;
}, 60_000);

afterAll(removeTempDirs);

const repositoryUrl = () => repository.store.url;

function runEdge(jobs: Job[]): JobResult[] {
  const file = path.join(tempDir('modelfleet-edge-jobs-'), 'jobs.json');
  writeFileSync(file, JSON.stringify({ module: edgeModule, jobs }));
  const stdout = execFileSync(process.execPath, [path.join(__dirname, 'node-runner.cjs'), file], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return JSON.parse(stdout) as JobResult[];
}

const INFER = /^\/v2\/models\/([^/]+)(?:\/versions\/(\d+))?\/infer$/;
const HTTP_ONLY_HEADERS = ['origin', 'x-request-id', 'inference-header-content-length'];

/** The cases about inference itself: not CORS, body limits, media types, binary framing or request ids. */
function appliesToInference(c: ConformanceCase): boolean {
  if (c.method !== 'POST' || !INFER.test(c.path)) return false;
  const headers = Object.keys(c.headers ?? {}).map((h) => h.toLowerCase());
  if (headers.some((h) => HTTP_ONLY_HEADERS.includes(h))) return false;
  if (![200, 400, 404].includes(c.expect.status)) return false;
  if (c.body instanceof Buffer) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(c.body);
    } catch {
      return false; // bytes that are not text: the edge takes objects or JSON text
    }
  }
  return true;
}

const applicable = CASES.filter(appliesToInference);

describe('modelfleet-edge on Node with the WASM backend', () => {
  it('is bundled without onnxruntime-node', () => {
    const text = readFileSync(edgeModule, 'utf8');
    expect(text).not.toMatch(/onnxruntime-node|onnxruntime_binding|\.node['"]\)/);
  });

  it(`passes the ${applicable.length} OIP conformance cases that apply to inference`, () => {
    expect(applicable.length).toBeGreaterThanOrEqual(15);
    const jobs = applicable.map((c): Job => {
      const [, model, version] = INFER.exec(c.path.split('?')[0] ?? '') ?? [];
      const body = c.body instanceof Buffer ? c.body.toString('utf8') : (c.body ?? '');
      return {
        load: {
          repository: root,
          model,
          stage: 'local',
          ...(version === undefined ? {} : { version: Number(version) }),
        },
        request: body,
      };
    });
    const results = runEdge(jobs);
    applicable.forEach((c, i) => {
      const result = results[i];
      if (c.expect.status === 200) {
        expect({ case: c.name, ...result }).toMatchObject({
          case: c.name,
          ok: true,
          response: c.expect.json ?? {},
        });
      } else {
        expect({ case: c.name, ok: result?.ok, status: result?.error?.status }).toEqual({
          case: c.name,
          ok: false,
          status: c.expect.status,
        });
        if (c.expect.error !== undefined) expect(result?.error?.message).toMatch(c.expect.error);
      }
    });
  }, 120_000);
});

describe('modelfleet-edge loads one version by its manifest URL', () => {
  it('runs it as the pinned variant', () => {
    const manifestUrl = new URL('iris/1/manifest.json', `${new URL(repositoryUrl()).href}/`).href;
    const [result] = runEdge([{ load: { manifestUrl }, request: sampleRequest('iris') }]);
    expect(result).toMatchObject({
      ok: true,
      info: { name: 'iris', version: 1, variant: 'pinned' },
      response: { model_version: '1', parameters: { variant: 'pinned' } },
    });
  }, 60_000);
});

describe('modelfleet-edge picks the variant the server picks', () => {
  it('puts each sticky key on the same variant of a 30% canary as the server does', async () => {
    const repo = new ModelRepository(new FsModelStore(tempDir('modelfleet-edge-sticky-')));
    const v1 = await packageModel({ name: 'iris', artifact: irisModel(), features: IRIS_FEATURES });
    const v2 = await packageModel({
      name: 'iris',
      artifact: irisModel([9.85, 5.5, -12.09]),
      features: IRIS_FEATURES,
    });
    await repo.publish(v1);
    await repo.publish(v2);
    const now = new Date();
    await repo.updateDeployment('iris', 'local', (current) =>
      promote(current, { model: 'iris', stage: 'local', version: 1 }, now),
    );
    await repo.updateDeployment('iris', 'local', (current) => setCanary(current, 2, 30, now));
    const config = await repo.updateDeployment('iris', 'local', (current) =>
      setSticky(current, { from: 'header', key: 'x-user', experiment: 'edge-parity' }, now),
    );
    const keys = Array.from({ length: 24 }, (_, i) => `user-${i * 7919}`);
    const server = keys.map((key) => routeRequest(config, key, () => 0.5).variant.name);
    expect(new Set(server)).toEqual(new Set(['primary', 'canary']));
    const edgeRoot = new URL(repo.store.url).pathname;
    const results = runEdge(
      keys.map((stickyKey) => ({ load: { repository: edgeRoot, model: 'iris', stage: 'local', stickyKey } })),
    );
    expect(results.map((r) => r.info?.variant)).toEqual(server);
    expect(results.map((r) => r.info?.version)).toEqual(server.map((name) => (name === 'canary' ? 2 : 1)));
  }, 120_000);
});

describe('modelfleet-edge checks signatures as the server does', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
  const keys = { 'release-1': raw };

  async function signedRepository(): Promise<{ root: string; manifestFile: string }> {
    const repo = new ModelRepository(new FsModelStore(tempDir('modelfleet-edge-signed-')));
    const pkg = await packageModel({ name: 'iris', artifact: irisModel(), features: IRIS_FEATURES });
    await repo.publish({ ...pkg, manifest: signManifest(pkg.manifest, privateKey, 'release-1') });
    const root = new URL(repo.store.url).pathname;
    return { root, manifestFile: path.join(root, 'iris', '1', 'manifest.json') };
  }

  it('accepts a manifest signed by a trusted key, refuses it unsigned or altered', async () => {
    const signed = await signedRepository();
    const unsigned = root; // the sample repository's manifests carry no attestation
    const altered = await signedRepository();
    const manifest = JSON.parse(readFileSync(altered.manifestFile, 'utf8'));
    writeFileSync(altered.manifestFile, JSON.stringify({ ...manifest, description: 'not what was signed' }));
    const [ok, noSignature, changed, notRequired] = runEdge([
      { load: { repository: signed.root, model: 'iris', version: 1, signingKeys: keys } },
      { load: { repository: unsigned, model: 'iris', version: 1, signingKeys: keys } },
      { load: { repository: altered.root, model: 'iris', version: 1, signingKeys: keys } },
      { load: { repository: unsigned, model: 'iris', version: 1 } },
    ]);
    expect(ok).toMatchObject({
      ok: true,
      info: { verification: { signedBy: 'release-1', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } },
    });
    expect(noSignature?.error).toMatchObject({
      status: 503,
      message: expect.stringMatching(/is not signed and signed models are required/),
    });
    expect(changed?.error).toMatchObject({
      status: 503,
      message: expect.stringMatching(/signature by key "release-1" that does not match its content/),
    });
    expect(notRequired).toMatchObject({ ok: true, info: { verification: { sampleChecked: true } } });
    expect(notRequired?.info?.verification['signedBy']).toBeUndefined();
  }, 120_000);

  it('refuses an artifact whose size or sha256 differs from the manifest', async () => {
    const { root: signedRoot } = await signedRepository();
    const file = path.join(signedRoot, 'iris', '1', 'model.onnx');
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 1));
    const [truncated] = runEdge([
      { load: { repository: signedRoot, model: 'iris', version: 1, signingKeys: keys } },
    ]);
    expect(truncated?.error).toMatchObject({
      name: 'IntegrityError',
      message: expect.stringMatching(
        /^refused: iris version 1: model\.onnx has \d+ bytes, the manifest says \d+/,
      ),
    });
  }, 120_000);
});
