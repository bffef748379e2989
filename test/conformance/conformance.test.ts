import type { ModelRepository } from '../../shared/repository/repository';
import { hashApiKey } from '../../shared/security/api-keys';
import { stagedApp, startStaged } from '../infra/staged';
import { startContainerEntry } from '../support/container-entry';
import { removeTempDirs, sampleApp, sampleRepository } from '../support/fixtures';
import { type Started, startUntil } from '../support/processes';
import { CASES, CORS_ORIGIN, type ConformanceCase, MAX_BODY_BYTES } from './cases';
import {
  apiGatewayV1,
  azureFunctions,
  listenLocal,
  overHttp,
  payloadV2,
  type Reply,
  type Send,
} from './targets';

jest.setTimeout(180_000);

let repository: ModelRepository;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  repository = await sampleRepository();
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  removeTempDirs();
});

// Not `local`: error bodies must carry no internals anywhere.
const SETTINGS = {
  stage: 'dev',
  exposeInternals: false,
  maxBodyBytes: MAX_BODY_BYTES,
  corsOrigins: [CORS_ORIGIN],
};
// The GCP process reads its settings from the environment, where `dev` denies by default
// (SECURITY.md): it gets an admin key's hash and every case carries the key. Auth itself is
// tested in test/security.
const CONFORMANCE_KEY = 'conformance-admin-key';
const withApiKey =
  (send: Send): Send =>
  (c) =>
    send({ ...c, headers: { ...c.headers, 'x-api-key': CONFORMANCE_KEY } });
const inProcessApp = async () => (await sampleApp(SETTINGS, repository)).app;

const TARGETS: Record<string, () => Promise<Send>> = {
  'AWS API Gateway REST (v1)': async () => apiGatewayV1(await inProcessApp()),
  'AWS HTTP API (v2)': async () => payloadV2(await inProcessApp(), 'http-api'),
  'AWS Function URL': async () => payloadV2(await inProcessApp(), 'function-url'),
  'Azure Functions (HttpRequest/InvocationContext)': async () => azureFunctions(await inProcessApp()),
  'local server over HTTP': async () => {
    const server = await listenLocal(await inProcessApp());
    cleanups.push(server.close);
    return overHttp(server.base);
  },
  // The real thing: `npm run start:gcp` (build, then the functions-framework CLI loading dist/).
  'GCP functions-framework over HTTP (npm run start:gcp)': async () => {
    const started: Started & { match: RegExpMatchArray } = await startUntil(
      'npm',
      ['run', 'start:gcp', '--silent'],
      {
        PORT: '0',
        MODEL_REPOSITORY: repository.store.url,
        MODELFLEET_STAGE: SETTINGS.stage,
        MAX_BODY_BYTES: String(MAX_BODY_BYTES),
        CORS_ORIGINS: CORS_ORIGIN,
        API_KEYS: `conformance:predict+feedback+admin:${hashApiKey(CONFORMANCE_KEY)}`,
      },
      /listening on (http:\/\/[^\s]+:\d+)/,
      150_000,
    );
    cleanups.push(started.stop);
    const base = started.match[1] ?? '';
    // Bound to loopback only (the framework alone would listen on every interface).
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    return withApiKey(overHttp(base));
  },
  // The container image's entry as the image runs it (test/support/container-entry.ts).
  'container image entry (Dockerfile ENTRYPOINT + CMD, image ENV, dist/)': async () => {
    const started = await startContainerEntry({
      MODEL_REPOSITORY: repository.store.url,
      MODELFLEET_STAGE: SETTINGS.stage,
      MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      CORS_ORIGINS: CORS_ORIGIN,
      API_KEYS: `conformance:predict+feedback+admin:${hashApiKey(CONFORMANCE_KEY)}`,
    });
    cleanups.push(started.stop);
    return withApiKey(overHttp(started.base));
  },
  // The packages `npm run deploy:azure` / `deploy:gcp` upload (scripts/stage-function.cjs): the
  // bundle as built, loaded as each platform loads it (test/infra/staged.ts), not the sources.
  'Azure Functions, staged package (host stand-in over HTTP)': async () => stagedTarget('azure'),
  'GCP functions-framework, staged package (--source <staged folder>)': async () => stagedTarget('gcp'),
};

async function stagedTarget(cloud: 'azure' | 'gcp'): Promise<Send> {
  const started = await startStaged(cloud, (await stagedApp(cloud)).dir, {
    MODEL_REPOSITORY: repository.store.url,
    MODELFLEET_STAGE: SETTINGS.stage,
    MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    CORS_ORIGINS: CORS_ORIGIN,
    API_KEYS: `conformance:predict+feedback+admin:${hashApiKey(CONFORMANCE_KEY)}`,
  });
  cleanups.push(started.stop);
  return withApiKey(overHttp(started.base));
}

function check(reply: Reply, c: ConformanceCase): void {
  const { expect: want } = c;
  expect({ status: reply.status, body: reply.body.toString('utf8').slice(0, 300) }).toMatchObject({
    status: want.status,
  });
  for (const [name, value] of Object.entries(want.headers ?? {})) {
    if (value instanceof RegExp) expect(reply.headers[name]).toMatch(value);
    else expect(reply.headers[name]).toBe(value);
  }
  for (const name of want.absentHeaders ?? []) expect(reply.headers[name]).toBeUndefined();
  if (want.status === 204) {
    expect(reply.body.length).toBe(0);
    return;
  }
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(reply.body.toString('utf8')) as Record<string, unknown>;
  if (want.json !== undefined) expect(body).toMatchObject(want.json);
  if (want.status >= 400) {
    expect(typeof body['error']).toBe('string');
    if (want.error !== undefined) expect(body['error']).toMatch(want.error);
    expect(body).not.toHaveProperty('detail');
    expect(reply.body.toString('utf8')).not.toMatch(/\n\s+at /);
  } else {
    expect(body).not.toHaveProperty('error');
  }
}

it('has at least 30 cases covering every status class the API documents', () => {
  expect(CASES.length).toBeGreaterThanOrEqual(30);
  expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  const statuses = new Set(CASES.map((c) => c.expect.status));
  for (const status of [200, 204, 400, 403, 404, 405, 413, 415]) expect(statuses).toContain(status);
});

describe.each(Object.keys(TARGETS))('%s', (target) => {
  let send: Send;

  beforeAll(async () => {
    const start = TARGETS[target];
    if (start === undefined) throw new Error(`no target ${target}`);
    send = await start();
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    check(await send(c), c);
  });
});
