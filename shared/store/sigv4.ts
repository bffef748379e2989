import { createHash, createHmac } from 'node:crypto';

/**
 * AWS Signature Version 4 from node:crypto: the one signer of the project, for the S3 reader and
 * the pre-traffic hook's Lambda and CodeDeploy calls. The SDK's signer costs ≈ 45 ms of a cold start
 * to load (docs/benchmarks.md); this costs nothing. Checked against @smithy/signature-v4 in tests.
 */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The signing key; it depends only on the secret, the day, the region and the service. */
export function signingKey(secret: string, day: string, region: string, service = 's3'): Buffer {
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
}

export interface SignableRequest {
  method: string;
  host: string;
  /** The path as sent, already percent-encoded once. */
  path: string;
  /** The canonical query string (see `canonicalQuery`), empty for none. */
  search: string;
  credentials: AwsCredentials;
  region: string;
  date: Date;
  /** Defaults to `s3`, whose paths are signed as sent (other services encode them twice). */
  service?: string;
  /** Further headers to sign (lower-case names), such as content-type or x-amz-target. */
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** A precomputed `signingKey` for the request's day. */
  key?: Buffer;
}

/** The headers that sign a request: host, x-amz-date, the token, the given ones, authorization. */
export function signRequest(request: SignableRequest): Record<string, string> {
  const { credentials, region } = request;
  const service = request.service ?? 's3';
  const amzDate = request.date.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const payloadHash =
    request.body === undefined ? EMPTY_SHA256 : createHash('sha256').update(request.body).digest('hex');
  const signed: Record<string, string> = {
    ...request.headers,
    host: request.host,
    'x-amz-content-sha256': payloadHash,
    'x-amz-date': amzDate,
  };
  if (credentials.sessionToken !== undefined) signed['x-amz-security-token'] = credentials.sessionToken;
  const names = Object.keys(signed).sort();
  const canonical = [
    request.method,
    // Other services sign each path segment encoded a second time; S3 signs the path as sent.
    service === 's3' ? request.path : request.path.split('/').map(escapeUri).join('/'),
    request.search,
    ...names.map((name) => `${name}:${String(signed[name]).trim()}`),
    '',
    names.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
  const key = request.key ?? signingKey(credentials.secretAccessKey, day, region, service);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    ...signed,
    authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}

/** RFC 3986 encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
export function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Query parameters sorted by name, RFC 3986-encoded: what SigV4 signs and what is sent. */
export function canonicalQuery(query: Record<string, string>): string {
  return Object.keys(query)
    .sort()
    .map((name) => `${escapeUri(name)}=${escapeUri(query[name] ?? '')}`)
    .join('&');
}
