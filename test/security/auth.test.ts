import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT } from 'jose';
import { parseConfig } from '../../shared/config';
import {
  hasVerifiedDigest,
  matchApiKey,
  parseApiKeys,
  VERIFIED_DIGEST_CACHE_SIZE,
} from '../../shared/security/api-keys';
import { requiredScope } from '../../shared/security/guard';
import { get, json, postJson, removeTempDirs } from '../support/fixtures';
import { API_KEYS, KEYS, securedApp } from './support';

afterAll(removeTempDirs);

const iris = {
  inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }],
};
const infer = (headers: Record<string, string> = {}) => postJson('/v2/models/iris/infer', iris, headers);
const pinned = (headers: Record<string, string> = {}) =>
  postJson('/v2/models/iris/versions/1/infer', iris, headers);

describe('API keys', () => {
  it('answers 401 with a clear message and WWW-Authenticate when no credential is sent', async () => {
    const { app, events } = await securedApp({ API_KEYS });
    const response = await app.handle(infer());
    expect(response.status).toBe(401);
    expect(json(response)['error']).toBe('authentication required: send an API key in x-api-key');
    expect(response.headers['www-authenticate']).toBe('Bearer, ApiKey');
    expect(events[0]).toMatchObject({ route: 'infer', status: 401, errorClass: 'unauthorized' });
  });

  it('serves a valid key in x-api-key, Authorization: ApiKey and Authorization: Bearer', async () => {
    const { app } = await securedApp({ API_KEYS });
    for (const headers of [
      { 'x-api-key': KEYS.predict },
      { authorization: `ApiKey ${KEYS.predict}` },
      { authorization: `Bearer ${KEYS.predict}` },
    ] as Record<string, string>[]) {
      const response = await app.handle(infer(headers));
      expect(response.status).toBe(200);
    }
  });

  it('refuses an unknown key and a revoked key with 401', async () => {
    const { app } = await securedApp({ API_KEYS });
    const unknown = await app.handle(infer({ 'x-api-key': `${KEYS.predict}x` }));
    expect([unknown.status, json(unknown)['error']]).toEqual([401, 'API key is not valid']);
    const revoked = await app.handle(infer({ 'x-api-key': KEYS.revoked }));
    expect([revoked.status, json(revoked)['error']]).toEqual([401, 'API key "old" has been revoked']);
  });

  it('answers 403 naming the missing scope: pinned versions need admin, inference needs predict', async () => {
    const { app } = await securedApp({ API_KEYS });
    const pinnedByClient = await app.handle(pinned({ 'x-api-key': KEYS.predict }));
    expect(pinnedByClient.status).toBe(403);
    expect(json(pinnedByClient)['error']).toBe(
      'API key "client" lacks the "admin" scope needed for route infer on a pinned version; it has predict',
    );
    const byLabeler = await app.handle(infer({ 'x-api-key': KEYS.feedback }));
    expect(byLabeler.status).toBe(403);
    expect(json(byLabeler)['error']).toContain('lacks the "predict" scope');
    expect((await app.handle(pinned({ 'x-api-key': KEYS.admin }))).status).toBe(200);
    expect((await app.handle(get('/v2/models/iris/versions/1', { 'x-api-key': KEYS.predict }))).status).toBe(
      403,
    );
    expect((await app.handle(get('/v2/models/iris', { 'x-api-key': KEYS.predict }))).status).toBe(200);
  });

  it('needs admin for a version pinned in an MLflow query string or header, as in an OIP path', async () => {
    const { app } = await securedApp({ API_KEYS });
    const rows = {
      dataframe_records: [{ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }],
    };
    const mlflow = (query: Record<string, string>, headers: Record<string, string>) =>
      app.handle({ ...postJson('/invocations', rows, headers), query });
    expect((await mlflow({ model: 'iris' }, { 'x-api-key': KEYS.predict })).status).toBe(200);
    const byQuery = await mlflow({ model: 'iris', version: '1' }, { 'x-api-key': KEYS.predict });
    expect(byQuery.status).toBe(403);
    expect(json(byQuery)['error']).toContain('lacks the "admin" scope');
    const byHeader = await mlflow({ model: 'iris' }, { 'x-api-key': KEYS.predict, 'x-model-version': '1' });
    expect(byHeader.status).toBe(403);
    expect((await mlflow({ model: 'iris', version: '1' }, { 'x-api-key': KEYS.admin })).status).toBe(200);
  });

  it('keeps health and server metadata public for probes', async () => {
    const { app } = await securedApp({ API_KEYS });
    for (const path of ['/v2', '/v2/health/live', '/v2/health/ready']) {
      expect((await app.handle(get(path))).status).toBe(200);
    }
  });

  it('denies by default on every stage but local, and is open on local unless keys are configured', async () => {
    const { app: dev } = await securedApp({});
    expect((await dev.handle(infer())).status).toBe(401);
    expect((await dev.handle(infer({ 'x-api-key': KEYS.predict }))).status).toBe(401);
    const { app: local } = await securedApp({ MODELFLEET_STAGE: 'local' });
    expect((await local.handle(infer())).status).toBe(200);
    const { app: localWithKeys } = await securedApp({ MODELFLEET_STAGE: 'local', API_KEYS });
    expect((await localWithKeys.handle(infer())).status).toBe(401);
  });

  it('refuses two credentials at once', async () => {
    const { app } = await securedApp({ API_KEYS });
    const response = await app.handle(
      infer({ 'x-api-key': KEYS.predict, authorization: `Bearer ${KEYS.predict}` }),
    );
    expect(response.status).toBe(400);
    expect(json(response)['error']).toContain('not both');
  });

  it('puts security headers on successes and errors', async () => {
    const { app } = await securedApp({ API_KEYS });
    for (const response of [
      await app.handle(infer({ 'x-api-key': KEYS.predict })),
      await app.handle(infer()),
    ]) {
      expect(response.headers).toMatchObject({
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      });
    }
  });

  it('accepts the compact API_KEYS form and compares every configured hash', () => {
    const entries = parseApiKeys(
      `a:predict:${'a'.repeat(64)},b:predict+admin:${require('node:crypto').createHash('sha256').update('kb').digest('hex')}`,
    );
    expect(entries.map((e) => [e.name, e.scopes])).toEqual([
      ['a', ['predict']],
      ['b', ['predict', 'admin']],
    ]);
    expect(matchApiKey(entries, 'kb')?.name).toBe('b');
    expect(matchApiKey(entries, 'kc')).toBeUndefined();
  });

  it('caches the digest of matched keys only, bounded, and still compares every configured hash', () => {
    const sha = (key: string) => require('node:crypto').createHash('sha256').update(key).digest('hex');
    const entries = parseApiKeys(`one:predict:${sha('key-one')},two:admin:${sha('key-two')}`);
    expect(matchApiKey(entries, 'wrong-key')).toBeUndefined();
    expect(hasVerifiedDigest('wrong-key')).toBe(false);
    expect(matchApiKey(entries, 'key-one')?.name).toBe('one');
    expect(hasVerifiedDigest('key-one')).toBe(true);
    // A cached digest is matched against the entries as they are now: revoked or replaced keys
    // stop matching, and a cached key never matches another entry.
    expect(matchApiKey(entries, 'key-one')?.name).toBe('one');
    const replaced = parseApiKeys(`one:predict:${sha('key-one-new')},two:admin:${sha('key-two')}`);
    expect(matchApiKey(replaced, 'key-one')).toBeUndefined();
    expect(matchApiKey(replaced, 'key-one-new')?.name).toBe('one');
    expect(matchApiKey(parseApiKeys(`two:admin:${sha('key-two')}`), 'key-one')).toBeUndefined();
    // Bounded: many valid keys keep at most VERIFIED_DIGEST_CACHE_SIZE digests, newest kept.
    const many = Array.from({ length: VERIFIED_DIGEST_CACHE_SIZE + 10 }, (_, i) => `key-${i}`);
    const manyEntries = parseApiKeys(many.map((key, i) => `k${i}:predict:${sha(key)}`).join(','));
    for (const key of many) expect(matchApiKey(manyEntries, key)?.name).toBe(`k${key.slice(4)}`);
    expect(many.filter(hasVerifiedDigest)).toHaveLength(VERIFIED_DIGEST_CACHE_SIZE);
    expect(hasVerifiedDigest(many[many.length - 1] as string)).toBe(true);
    expect(hasVerifiedDigest('key-0')).toBe(false);
    expect(matchApiKey(manyEntries, 'key-0')?.name).toBe('k0');
  });

  it.each([
    [{ API_KEYS: 'a:predict:notahash' }, 'API_KEYS: entry 0.sha256'],
    [{ API_KEYS: `a:root:${'a'.repeat(64)}` }, 'API_KEYS: entry 0.scopes'],
    [{ API_KEYS: `a:predict:${'a'.repeat(64)},a:admin:${'b'.repeat(64)}` }, 'is used twice'],
    [{ API_KEYS: '[{"name":"a"' }, 'API_KEYS: not valid JSON'],
    [{ JWT_PUBLIC_KEY: 'x', JWT_AUDIENCE: 'a' }, 'JWT_PUBLIC_KEY: expected a PEM'],
    [
      { JWT_JWKS_URL: 'http://idp.example.com/jwks', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a' },
      'JWT_JWKS_URL: must be an https://',
    ],
    [{ JWT_JWKS_URL: 'https://idp.example.com/jwks', JWT_AUDIENCE: 'a' }, 'JWT_ISSUER: is required'],
    [{ JWT_JWKS_URL: 'https://idp.example.com/jwks', JWT_ISSUER: 'i' }, 'JWT_AUDIENCE: is required'],
    [
      { JWT_JWKS_URL: 'https://i/j', JWT_ISSUER: 'i', JWT_AUDIENCE: 'a', JWT_ALGORITHMS: 'HS256' },
      'HS256 is not allowed',
    ],
    [{ JWT_ISSUER: 'i' }, 'JWT_ISSUER: is set but neither'],
    [{ RATE_LIMIT_KEY_RPS: '-1' }, 'RATE_LIMIT_KEY_RPS: must be between'],
    [{ REQUIRE_SIGNED_MODELS: 'true' }, 'REQUIRE_SIGNED_MODELS: is true but MODEL_SIGNING_KEYS'],
    [{ REQUIRE_SIGNED_MODELS: 'yes' }, 'REQUIRE_SIGNED_MODELS: expected true or false'],
    [{ MODEL_SIGNING_KEYS: '{"k":"AAAA"}' }, 'MODEL_SIGNING_KEYS: k: not a public key'],
    [{ MAX_JSON_DEPTH: '1' }, 'MAX_JSON_DEPTH: must be between'],
  ])('stops at start-up on bad security settings (%o)', (env, message) => {
    expect(() => parseConfig(env)).toThrow(message);
  });

  it('maps routes to scopes, closing routes it does not know', () => {
    expect(requiredScope('live', {})).toBe('public');
    expect(requiredScope('infer', {})).toBe('predict');
    expect(requiredScope('infer', { version: '2' })).toBe('admin');
    expect(requiredScope('feedback', {})).toBe('feedback');
    expect(requiredScope('set_canary', {})).toBe('admin');
  });
});

describe('JWT bearer tokens', () => {
  const ISSUER = 'https://idp.test/';
  const AUDIENCE = 'modelfleet-api';

  const keys = async () => {
    const good = await generateKeyPair('RS256');
    const other = await generateKeyPair('RS256');
    return { good, other, pem: await exportSPKI(good.publicKey) };
  };

  const token = (
    key: Parameters<SignJWT['sign']>[0],
    claims: Record<string, unknown> = { scope: 'predict' },
    options: {
      alg?: string;
      aud?: string;
      iss?: string;
      exp?: string | number;
      kid?: string;
      sub?: string;
    } = {},
  ) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: options.alg ?? 'RS256', ...(options.kid ? { kid: options.kid } : {}) })
      .setIssuer(options.iss ?? ISSUER)
      .setAudience(options.aud ?? AUDIENCE)
      .setSubject(options.sub ?? 'user-1')
      .setIssuedAt()
      .setExpirationTime(options.exp ?? '5m')
      .sign(key);

  it('accepts a valid token and checks expiry, signature, audience, issuer and scopes', async () => {
    const { good, other, pem } = await keys();
    const { app } = await securedApp({ JWT_PUBLIC_KEY: pem, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });
    const call = async (jwt: string) => {
      const response = await app.handle(infer({ authorization: `Bearer ${jwt}` }));
      return [response.status, json(response)['error']];
    };
    expect(await call(await token(good.privateKey))).toEqual([200, undefined]);
    expect(await call(await token(good.privateKey, { scp: ['predict', 'admin'] }))).toEqual([200, undefined]);
    expect(
      await call(await token(good.privateKey, {}, { exp: Math.floor(Date.now() / 1000) - 120 })),
    ).toEqual([401, 'bearer token has expired']);
    expect(await call(await token(other.privateKey))).toEqual([401, 'bearer token signature is not valid']);
    const wrongAudience = await call(
      await token(good.privateKey, { scope: 'predict' }, { aud: 'another-api' }),
    );
    expect(wrongAudience[0]).toBe(401);
    expect(wrongAudience[1]).toMatch(/^bearer token claim "aud" is not valid/);
    const wrongIssuer = await call(
      await token(good.privateKey, { scope: 'predict' }, { iss: 'https://evil/' }),
    );
    expect(wrongIssuer[1]).toMatch(/^bearer token claim "iss" is not valid/);
    const noScope = await call(await token(good.privateKey, { scope: 'feedback' }));
    expect(noScope).toEqual([
      403,
      'bearer token of user-1 lacks the "predict" scope needed for route infer; it has feedback',
    ]);
    // An HMAC token "signed" with the public key (the classic alg confusion) and alg "none".
    const hs = await token(new TextEncoder().encode(pem), {}, { alg: 'HS256' });
    expect((await call(hs))[0]).toBe(401);
    const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'x', scope: 'predict', exp: 9e9 }),
    ).toString('base64url')}.`;
    expect(await call(unsigned)).toEqual([401, 'bearer token uses an algorithm that is not accepted']);
    expect(await call('a.b.c')).toEqual([401, 'bearer token is malformed']);
  });

  it('fetches keys from a JWKS URL (a local IdP), refuses unknown key ids, and answers 503 when the IdP is down', async () => {
    const { good, other } = await keys();
    const jwk: JWK = { ...(await exportJWK(good.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    let fetches = 0;
    const idp: Server = createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;
    try {
      const { app } = await securedApp({
        JWT_JWKS_URL: url,
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        API_KEYS,
      });
      const ok = await app.handle(
        infer({
          authorization: `Bearer ${await token(good.privateKey, { scope: 'predict' }, { kid: 'k1' })}`,
        }),
      );
      expect(ok.status).toBe(200);
      expect(fetches).toBe(1);
      const unknownKid = await app.handle(
        infer({
          authorization: `Bearer ${await token(other.privateKey, { scope: 'predict' }, { kid: 'k2' })}`,
        }),
      );
      expect([unknownKid.status, json(unknownKid)['error']]).toEqual([
        401,
        'bearer token is signed by a key the issuer does not publish',
      ]);
      // API keys keep working beside JWTs.
      expect((await app.handle(infer({ 'x-api-key': KEYS.predict }))).status).toBe(200);
    } finally {
      await new Promise((resolve) => idp.close(resolve));
    }
    const { app: orphan } = await securedApp({
      JWT_JWKS_URL: url,
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
    });
    const down = await orphan.handle(
      infer({ authorization: `Bearer ${await token(good.privateKey, { scope: 'predict' }, { kid: 'k1' })}` }),
    );
    expect([down.status, json(down)['error']]).toEqual([
      503,
      "the identity provider's signing keys cannot be fetched now",
    ]);
  });

  it('says so when a JWT is sent to a stage that only takes API keys', async () => {
    const { good } = await keys();
    const { app } = await securedApp({ API_KEYS });
    const response = await app.handle(infer({ authorization: `Bearer ${await token(good.privateKey)}` }));
    expect([response.status, json(response)['error']]).toEqual([
      401,
      'bearer tokens (JWT) are not accepted on this stage',
    ]);
  });
});
