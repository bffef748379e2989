import { createHash, createHmac } from 'node:crypto';

/**
 * The one HTTP call the cloud metric sources make: a JSON request over node's fetch, with the
 * status and the first bytes of the answer in the error when it fails. Endpoints are configurable
 * so that tests answer from 127.0.0.1 and sovereign clouds work.
 */
export class MetricQueryError extends Error {
  override name = 'MetricQueryError';
}

export async function requestJson(
  url: URL,
  init: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
  what: string,
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      headers: init.headers,
      ...(init.body === undefined ? {} : { body: init.body }),
    });
  } catch (err) {
    throw new MetricQueryError(`${what}: cannot reach ${url.origin}: ${(err as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok) throw new MetricQueryError(`${what} answered ${response.status}: ${text.slice(0, 300)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new MetricQueryError(`${what} answered with something that is not JSON: ${text.slice(0, 100)}`);
  }
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const hex = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** AWS Signature Version 4 headers for a POST with a JSON body and no query string. */
export function signAwsJsonPost(request: {
  url: URL;
  body: string;
  headers: Record<string, string>;
  service: string;
  region: string;
  credentials: AwsCredentials;
  date: Date;
}): Record<string, string> {
  const amzDate = request.date.toISOString().replace(/[-:]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v])),
    host: request.url.host,
    'x-amz-date': amzDate,
  };
  if (request.credentials.sessionToken !== undefined)
    headers['x-amz-security-token'] = request.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonical = [
    'POST',
    request.url.pathname || '/',
    '',
    ...names.map((name) => `${name}:${String(headers[name]).trim()}`),
    '',
    names.join(';'),
    hex(request.body),
  ].join('\n');
  const scope = `${day}/${request.region}/${request.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hex(canonical)}`;
  const key = hmac(
    hmac(hmac(hmac(`AWS4${request.credentials.secretAccessKey}`, day), request.region), request.service),
    'aws4_request',
  );
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const { host: _host, ...sent } = headers;
  return {
    ...sent,
    authorization: `AWS4-HMAC-SHA256 Credential=${request.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}
