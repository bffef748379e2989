/**
 * Issue 13, item 1: a store that stops answering (connections open, no bytes: s3rver frozen with
 * SIGSTOP) must not stall warm traffic. Before, every request after the TTL awaited one shared
 * revalidation with no deadline, and the S3 reader waited 30 s and retried once.
 */
import net, { type AddressInfo } from 'node:net';
import type { App } from '../../shared/app';
import { parseConfig } from '../../shared/config';
import { promote } from '../../shared/repository/deployment';
import { ModelRepository } from '../../shared/repository/repository';
import { AzureBlobModelStore } from '../../shared/store/azure-store';
import { GcsModelStore } from '../../shared/store/gcs-store';
import { S3ModelStore } from '../../shared/store/s3-store';
import { StoreUnavailableError } from '../../shared/store/types';
import { azuriteConnectionString, startS3rverProcess } from '../support/emulators';
import { buildTestApp, postJson, removeTempDirs, tempDir } from '../support/fixtures';
import { irisPackage, irisRequest } from './stores';

afterAll(removeTempDirs);
jest.setTimeout(60_000);

const TTL_MS = 1000;
const RATE_PER_SECOND = 20;
const FREEZE_MS = 5000;
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

interface Sample {
  sentAt: number;
  ms: number | undefined;
  status: number | undefined;
  version: string | undefined;
}

/** Sends `RATE_PER_SECOND` requests a second for `ms`, recording each one's latency and answer. */
async function drive(app: App, ms: number, samples: Sample[], started: number): Promise<void> {
  const begin = performance.now();
  const end = begin + ms;
  const pending: Promise<void>[] = [];
  for (let i = 0; performance.now() < end; i++) {
    const sample: Sample = {
      sentAt: performance.now() - started,
      ms: undefined,
      status: undefined,
      version: undefined,
    };
    samples.push(sample);
    const t0 = performance.now();
    pending.push(
      app.handle(postJson('/v2/models/iris/infer', irisRequest)).then((response) => {
        sample.ms = performance.now() - t0;
        sample.status = response.status;
        sample.version = response.headers['x-model-version'];
      }),
    );
    // On a schedule, not a fixed pause: a late timer does not lower the rate.
    const next = begin + ((i + 1) * 1000) / RATE_PER_SECOND;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, next - performance.now())));
  }
  // Bounded: a request still open 5 s after the load stopped counts as unanswered.
  await Promise.race([Promise.all(pending), new Promise((resolve) => setTimeout(resolve, 5000))]);
}

describe('a hung store (s3rver frozen with SIGSTOP)', () => {
  it('keeps answering warm requests within 2 s, and picks up a new config within a TTL after the freeze', async () => {
    const s3 = await startS3rverProcess('hung');
    let frozen = false;
    try {
      const writer = new ModelRepository(
        new S3ModelStore({ bucket: 'hung', prefix: 'repo', endpoint: s3.endpoint, forcePathStyle: true }),
      );
      const pkg = await irisPackage();
      await writer.publish(pkg);
      await writer.publish(pkg);
      await writer.updateDeployment('iris', 'prod', (current) =>
        promote(current, { model: 'iris', stage: 'prod', version: 1 }, new Date(), 'test'),
      );
      // The serving path's store: the SDK-free reader, as on Lambda, with the default deadlines.
      const settings = parseConfig({ MODELFLEET_STAGE: 'prod' });
      const store = new S3ModelStore({
        bucket: 'hung',
        prefix: 'repo',
        endpoint: s3.endpoint,
        forcePathStyle: true,
        readCredentials: credentials,
        ...(settings.store.deadlines === undefined ? {} : { deadlines: settings.store.deadlines }),
      });
      const { app } = buildTestApp(store, {
        config: {
          ...settings,
          authRequired: false,
          rateLimitPerKey: { ratePerSecond: 0, burst: 1 },
          rateLimitPerClient: { ratePerSecond: 0, burst: 1 },
          deploymentTtlMs: TTL_MS,
          artifactCacheDir: tempDir('modelfleet-cache-'),
        },
      });
      await app.preload();

      const samples: Sample[] = [];
      const started = performance.now();
      const load = drive(app, 1500 + FREEZE_MS + 2500, samples, started);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      s3.child.kill('SIGSTOP');
      frozen = true;
      await new Promise((resolve) => setTimeout(resolve, FREEZE_MS));
      s3.child.kill('SIGCONT');
      frozen = false;
      await writer.updateDeployment('iris', 'prod', (current) =>
        promote(current, { model: 'iris', stage: 'prod', version: 2 }, new Date(), 'test'),
      );
      const promotedAt = performance.now() - started;
      await load;

      const slow = samples.filter((s) => s.ms === undefined || s.ms > 2000 || s.status !== 200);
      const worst = Math.max(...samples.map((s) => s.ms ?? Number.POSITIVE_INFINITY));
      expect({ requests: samples.length, slow: slow.slice(0, 5), worst: worst <= 2000 }).toEqual({
        requests: samples.length,
        slow: [],
        worst: true,
      });
      expect(samples.length).toBeGreaterThanOrEqual(((1500 + FREEZE_MS + 2500) / 1000) * RATE_PER_SECOND - 5);
      const firstV2 = samples.find((s) => s.version === '2');
      expect(firstV2).toBeDefined();
      // Within a TTL of the change (plus loading version 2, which the vet does before switching).
      expect((firstV2?.sentAt ?? Number.POSITIVE_INFINITY) - promotedAt).toBeLessThan(TTL_MS + 1000);
      expect(samples.filter((s) => s.sentAt > (firstV2?.sentAt ?? 0)).every((s) => s.version === '2')).toBe(
        true,
      );
    } finally {
      if (frozen) s3.child.kill('SIGCONT');
      await s3.stop();
    }
  });
});

describe('store deadlines on every driver', () => {
  /** Accepts connections and never answers: a hung store. */
  async function blackHole(): Promise<{ endpoint: string; close: () => void }> {
    const sockets: net.Socket[] = [];
    const server = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => {
        for (const socket of sockets) socket.destroy();
        server.close();
      },
    };
  }

  const deadlines = { connectMs: 500, firstByteMs: 800, totalMs: 1500, retryTokens: 10 };

  it.each([
    [
      'S3 reader',
      (endpoint: string) =>
        new S3ModelStore({
          bucket: 'b',
          prefix: '',
          endpoint,
          forcePathStyle: true,
          readCredentials: credentials,
          deadlines,
        }),
    ],
    [
      'S3 SDK',
      (endpoint: string) =>
        new S3ModelStore({ bucket: 'b', prefix: '', endpoint, forcePathStyle: true, deadlines }),
    ],
    [
      'Azure',
      (endpoint: string) =>
        new AzureBlobModelStore({
          account: 'devstoreaccount1',
          container: 'c',
          prefix: '',
          connectionString: azuriteConnectionString(`${endpoint}/devstoreaccount1`),
          deadlines,
        }),
    ],
    [
      'GCS',
      (endpoint: string) =>
        new GcsModelStore({ bucket: 'b', prefix: '', apiEndpoint: endpoint, projectId: 'p', deadlines }),
    ],
  ])('%s: a read of a store that never answers fails within STORE_TIMEOUT_MS', async (_name, open) => {
    const hole = await blackHole();
    try {
      const store = open(hole.endpoint);
      for (const read of [() => store.get('m/deployments/prod.json'), () => store.list('m')]) {
        const t0 = performance.now();
        await expect(read()).rejects.toBeInstanceOf(StoreUnavailableError);
        expect(performance.now() - t0).toBeLessThan(deadlines.totalMs + 700);
      }
    } finally {
      hole.close();
    }
  });
});
