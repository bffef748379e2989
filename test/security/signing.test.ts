import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../scripts/cli';
import { ARTIFACT_FILE, MANIFEST_FILE, parseManifest } from '../../shared/repository/manifest';
import type { ModelRepository } from '../../shared/repository/repository';
import {
  attestationProblem,
  canonicalJson,
  parseSigningKeys,
  signManifest,
} from '../../shared/security/signing';
import * as nativeSession from '../../shared/serving/native-session';
import type { FsModelStore } from '../../shared/store';
import { json, postJson, removeTempDirs, sampleRepository, tempDir } from '../support/fixtures';
import { API_KEYS, KEYS, securedApp } from './support';

afterAll(removeTempDirs);

const iris = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };
const infer = () => postJson('/v2/models/iris/infer', iris, { 'x-api-key': KEYS.predict });

async function cli(args: string[]): Promise<Record<string, unknown>> {
  const out: string[] = [];
  await run([...args, '--json'], {}, (text) => out.push(text));
  return JSON.parse(out.join('\n'));
}

/**
 * Makes a key pair with `modelfleet keygen`, exports iris version 1 as a package, signs it with
 * `modelfleet sign --key-id`, publishes it as version 2 and deploys it on dev.
 */
async function signedRepository(keyId = 'release-1', signingKeyId = keyId) {
  const repository = await sampleRepository();
  const keys = tempDir('modelfleet-keys-');
  const generated = await cli(['keygen', '--key-id', signingKeyId, '--out', keys]);
  const pkg = tempDir('modelfleet-pkg-');
  writeFileSync(path.join(pkg, MANIFEST_FILE), JSON.stringify(await repository.readManifest('iris', 1)));
  writeFileSync(path.join(pkg, ARTIFACT_FILE), await repository.readArtifact('iris', 1));
  const signed = await cli(['sign', pkg, '--key', String(generated['privateKey']), '--key-id', keyId]);
  expect(signed['attestation']).toMatchObject({ keyId, algorithm: 'Ed25519' });
  const published = await cli([
    'publish',
    pkg,
    '--repository',
    repository.store.url,
    '--promote',
    '--stage',
    'dev',
    '--force', // the same artifact as version 1, now signed
  ]);
  expect(published).toMatchObject({ version: 2, promoted: true });
  return { repository, signingKeys: String(generated['modelSigningKeys']) };
}

function storedFile(repository: ModelRepository, version: number, file: string): string {
  return path.join((repository.store as FsModelStore).root, 'iris', String(version), file);
}

async function serve(repository: ModelRepository, env: Record<string, string>) {
  const create = jest.spyOn(nativeSession, 'createSession');
  const { app, events } = await securedApp({ API_KEYS, ...env }, { repository });
  const response = await app.handle(infer());
  const created = create.mock.calls.length;
  create.mockRestore();
  return { status: response.status, body: json(response), created, errorClass: events[0]?.errorClass };
}

describe('signed manifests', () => {
  it('serves a manifest signed with a configured key, on a stage that requires signatures', async () => {
    const { repository, signingKeys } = await signedRepository();
    const result = await serve(repository, {
      MODEL_SIGNING_KEYS: signingKeys,
      REQUIRE_SIGNED_MODELS: 'true',
    });
    // `created` counts onnxruntime sessions: the refusals below assert 0 with the same spy.
    expect(result).toMatchObject({ status: 200, body: { model_version: '2' }, created: 1 });
  });

  it('refuses the unsigned version on that stage with 503, and never loads it', async () => {
    const { repository, signingKeys } = await signedRepository();
    const create = jest.spyOn(nativeSession, 'createSession');
    const { app } = await securedApp(
      { API_KEYS, MODEL_SIGNING_KEYS: signingKeys, REQUIRE_SIGNED_MODELS: 'true' },
      { repository },
    );
    const response = await app.handle(
      postJson('/v2/models/iris/versions/1/infer', iris, { 'x-api-key': KEYS.admin }),
    );
    expect([response.status, json(response)['error']]).toEqual([
      503,
      'model "iris" version 1 failed its signature check and will not be served',
    ]);
    expect(create).not.toHaveBeenCalled();
    create.mockRestore();
  });

  it('refuses a tampered manifest (signature no longer matches), even where signatures are optional', async () => {
    const { repository, signingKeys } = await signedRepository();
    const file = storedFile(repository, 2, MANIFEST_FILE);
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    manifest.description = 'now with a backdoor';
    writeFileSync(file, JSON.stringify(manifest));
    for (const require of ['true', 'false']) {
      const result = await serve(repository, {
        MODEL_SIGNING_KEYS: signingKeys,
        REQUIRE_SIGNED_MODELS: require,
      });
      expect(result).toMatchObject({ status: 503, created: 0, errorClass: 'integrity' });
      expect(result.body['error']).toBe(
        'model "iris" version 2 failed its signature check and will not be served',
      );
    }
  });

  it('refuses a tampered artifact: the signed manifest pins its sha256', async () => {
    const { repository, signingKeys } = await signedRepository();
    const file = storedFile(repository, 2, ARTIFACT_FILE);
    const bytes = readFileSync(file);
    bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 0x01, bytes.length - 1);
    writeFileSync(file, bytes);
    const result = await serve(repository, {
      MODEL_SIGNING_KEYS: signingKeys,
      REQUIRE_SIGNED_MODELS: 'true',
    });
    expect(result).toMatchObject({ status: 503, created: 0, errorClass: 'integrity' });
    expect(result.body['error']).toBe(
      'model "iris" version 2 failed its integrity check and will not be served',
    );
  });

  it('refuses a manifest signed by an unknown key when signatures are required, and a forged one always', async () => {
    const unknown = await signedRepository('someone-else');
    const { signingKeys } = await signedRepository('release-1');
    expect(
      await serve(unknown.repository, { MODEL_SIGNING_KEYS: signingKeys, REQUIRE_SIGNED_MODELS: 'true' }),
    ).toMatchObject({ status: 503, created: 0, errorClass: 'integrity' });
    expect(await serve(unknown.repository, { MODEL_SIGNING_KEYS: signingKeys })).toMatchObject({
      status: 200,
    });

    // Signed under the configured key id, but with another private key.
    const forged = await signedRepository('release-1', 'release-1');
    expect(await serve(forged.repository, { MODEL_SIGNING_KEYS: signingKeys })).toMatchObject({
      status: 503,
      errorClass: 'integrity',
    });
  });

  it('serves unsigned models where signatures are not required', async () => {
    const repository = await sampleRepository();
    expect(await serve(repository, {})).toMatchObject({ status: 200, body: { model_version: '1' } });
  });
});

describe('signature format', () => {
  it('covers the canonical manifest minus its version, whatever the key order', async () => {
    const repository = await sampleRepository();
    const manifest = await repository.readManifest('iris', 1);
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const keys = parseSigningKeys(JSON.stringify({ k: publicKey.export({ type: 'spki', format: 'pem' }) }));
    const policy = { signingKeys: keys, requireSignedModels: true };
    const signed = signManifest(manifest, privateKey, 'k');
    expect(attestationProblem(signed, policy)).toBeUndefined();
    // Version numbers are assigned at publish time, so they are not covered.
    expect(attestationProblem({ ...signed, version: 7 }, policy)).toBeUndefined();
    const reordered = parseManifest(
      JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(signed).reverse()))),
      'x',
    );
    expect(attestationProblem(reordered, policy)).toBeUndefined();
    expect(attestationProblem({ ...signed, artifact: { ...signed.artifact, bytes: 1 } }, policy)).toContain(
      'does not match its content',
    );
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: null }] })).toBe('{"a":[{"c":null,"d":2}],"b":1}');
  });

  it('reads public keys as PEM, base64 DER or base64 raw 32 bytes, and refuses non-Ed25519 keys', () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const keys = parseSigningKeys(
      JSON.stringify({
        pem: publicKey.export({ type: 'spki', format: 'pem' }),
        der: der.toString('base64'),
        raw: der.subarray(12).toString('base64'),
      }),
    );
    expect([...keys.values()].every((key) => key.equals(publicKey))).toBe(true);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
      type: 'spki',
      format: 'pem',
    });
    expect(() => parseSigningKeys(JSON.stringify({ r: rsa }))).toThrow(
      'MODEL_SIGNING_KEYS: r: is a rsa key, expected ed25519',
    );
  });
});

describe('key commands', () => {
  it('hash-key prints the sha256 and an API_KEYS entry; new-key makes a key that the entry matches', async () => {
    const hashed = await cli(['hash-key', 'secret-key', '--name', 'ci', '--scopes', 'predict+admin']);
    const sha256 = createHash('sha256').update('secret-key').digest('hex');
    expect(hashed).toEqual({ sha256, entry: `ci:predict+admin:${sha256}` });
    const made = await cli(['new-key', '--name', 'web']);
    const { app } = await securedApp({ API_KEYS: String(made['entry']) });
    const response = await app.handle(
      postJson('/v2/models/iris/infer', iris, { 'x-api-key': String(made['key']) }),
    );
    expect(response.status).toBe(200);
    await expect(cli(['hash-key', 'k', '--scopes', 'root'])).rejects.toThrow(
      '--scopes: use predict, feedback, admin',
    );
  });
});
