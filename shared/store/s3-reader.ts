import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { type AwsCredentials, canonicalQuery, escapeUri, signingKey, signRequest } from './sigv4';
import { DEFAULT_STORE_DEADLINES, RetryBudget, type StoreDeadlines } from './types';

/**
 * The serving path's S3 reads (GetObject, ListObjectsV2) over node:http with a SigV4 signature made
 * by node:crypto. Loading @aws-sdk/client-s3 costs ≈ 80–140 ms of a cold start and its signer
 * alone ≈ 45 ms (docs/benchmarks.md, section 3); this costs nothing to load. It is used only when
 * the credentials are in the environment, as they always are on Lambda; every other credential
 * source, and every write, goes through the SDK.
 */
export type S3Credentials = AwsCredentials;

export interface S3ReaderOptions {
  bucket: string;
  region: string;
  credentials: S3Credentials;
  /** An S3-compatible endpoint; AWS's regional endpoint when absent. */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** Connect, first-byte and total deadlines, and the retry budget (shared/config.ts). */
  deadlines?: StoreDeadlines;
}

export interface S3ReadResponse {
  status: number;
  body: Buffer;
  etag: string;
}

export interface ListPage {
  keys: string[];
  commonPrefixes: string[];
  nextToken?: string;
}

/** An S3 answer the reader does not turn into a result: status, S3's error code and message. */
export class S3RequestError extends Error {
  override name = 'S3RequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const RETRY_DELAY_MS = 100;

export class S3ObjectReader {
  private readonly base: URL;
  /** Path prefix before the key: `/bucket` in path style, empty for virtual-hosted buckets. */
  private readonly bucketPath: string;
  private readonly agent: http.Agent;
  private readonly deadlines: StoreDeadlines;
  private readonly budget: RetryBudget;
  /** The signing key depends only on the day; computing it once a day saves four HMACs a request. */
  private signingKey: { day: string; key: Buffer } | undefined;

  constructor(private readonly options: S3ReaderOptions) {
    const { bucket, region } = options;
    const endpoint = new URL(options.endpoint ?? `https://s3.${region}.amazonaws.com`);
    // Dotted bucket names do not match the wildcard certificate of virtual-hosted endpoints.
    const pathStyle = options.forcePathStyle === true || !/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket);
    if (!pathStyle) endpoint.hostname = `${bucket}.${endpoint.hostname}`;
    this.base = endpoint;
    this.bucketPath = pathStyle ? `/${escapeUri(bucket)}` : '';
    const Agent = endpoint.protocol === 'http:' ? http.Agent : https.Agent;
    // Keep-alive: every request after the first skips the TCP (and TLS) handshake.
    this.agent = new Agent({ keepAlive: true, maxSockets: 32 });
    this.deadlines = options.deadlines ?? DEFAULT_STORE_DEADLINES;
    this.budget = new RetryBudget(this.deadlines.retryTokens);
  }

  /** GetObject; 200, 304 and 404 are answers, anything else an S3RequestError. */
  async get(key: string, ifNoneMatch?: string): Promise<S3ReadResponse> {
    const response = await this.send(
      this.objectPath(key),
      {},
      ifNoneMatch === undefined ? {} : { 'if-none-match': ifNoneMatch },
    );
    if (response.status === 200 || response.status === 304 || response.status === 404) return response;
    throw requestError(`GET ${key}`, response);
  }

  /** One page of ListObjectsV2. */
  async listPage(
    prefix: string,
    delimiter: string | undefined,
    token: string | undefined,
  ): Promise<ListPage> {
    const query: Record<string, string> = { 'list-type': '2', prefix };
    if (delimiter !== undefined) query['delimiter'] = delimiter;
    if (token !== undefined) query['continuation-token'] = token;
    const response = await this.send(`${this.bucketPath}/`, query, {});
    if (response.status !== 200) throw requestError(`LIST ${prefix}`, response);
    return parseListPage(response.body.toString('utf8'));
  }

  /** Stops keeping idle connections (tests, CLIs that exit). */
  close(): void {
    this.agent.destroy();
  }

  private objectPath(key: string): string {
    return `${this.bucketPath}/${key.split('/').map(escapeUri).join('/')}`;
  }

  /**
   * One call within the total deadline; a dropped connection, a missed deadline, a 5xx or a 429
   * is retried once if the retry budget allows and time is left (the SDK's maxAttempts: 2, bounded).
   */
  private async send(
    path: string,
    query: Record<string, string>,
    extra: Record<string, string>,
  ): Promise<S3ReadResponse> {
    const deadlineAt = performance.now() + this.deadlines.totalMs;
    let failure: { response: S3ReadResponse } | { error: unknown };
    try {
      const response = await this.sendOnce(path, query, extra, deadlineAt);
      if (response.status < 500 && response.status !== 429) {
        this.budget.succeeded();
        return response;
      }
      failure = { response };
    } catch (error) {
      failure = { error };
    }
    if (deadlineAt - performance.now() <= RETRY_DELAY_MS || !this.budget.take()) {
      if ('response' in failure) return failure.response;
      throw failure.error;
    }
    await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
    const response = await this.sendOnce(path, query, extra, deadlineAt);
    if (response.status < 500 && response.status !== 429) this.budget.succeeded();
    return response;
  }

  private sendOnce(
    path: string,
    query: Record<string, string>,
    extra: Record<string, string>,
    deadlineAt: number,
  ): Promise<S3ReadResponse> {
    const search = canonicalQuery(query);
    const headers = this.sign('GET', path, search, extra);
    const transport = this.base.protocol === 'http:' ? http : https;
    const { connectMs, firstByteMs } = this.deadlines;
    return new Promise((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      const fail = (message: string) => () => request.destroy(new Error(message));
      const arm = (ms: number, message: string) => {
        const timer = setTimeout(fail(message), Math.max(0, ms));
        timers.push(timer);
        return timer;
      };
      const done = () => {
        for (const timer of timers) clearTimeout(timer);
      };
      const request = transport.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname,
          port: this.base.port,
          method: 'GET',
          path: search === '' ? path : `${path}?${search}`,
          headers,
          agent: this.agent,
        },
        (response) => {
          clearTimeout(firstByte);
          readResponse(response).then(resolve, reject).finally(done);
        },
      );
      arm(deadlineAt - performance.now(), `S3 call not finished within ${this.deadlines.totalMs} ms`);
      const firstByte = arm(firstByteMs, `no answer from S3 within ${firstByteMs} ms`);
      request.on('socket', (socket) => {
        // Only a new socket connects; a kept-alive one is ready at once.
        if (!socket.connecting) return;
        const connect = arm(connectMs, `no connection to S3 within ${connectMs} ms`);
        socket.once('connect', () => clearTimeout(connect));
      });
      request.on('error', (err) => {
        done();
        reject(err);
      });
      request.end();
    });
  }

  private sign(method: string, path: string, search: string, extra: Record<string, string>) {
    const date = new Date();
    const day = date.toISOString().slice(0, 10).replace(/-/g, '');
    if (this.signingKey?.day !== day) {
      this.signingKey = {
        day,
        key: signingKey(this.options.credentials.secretAccessKey, day, this.options.region),
      };
    }
    const signed = signRequest({
      method,
      host: this.base.host,
      path,
      search,
      credentials: this.options.credentials,
      region: this.options.region,
      date,
      key: this.signingKey.key,
    });
    return { ...signed, ...extra };
  }
}

function readResponse(response: IncomingMessage): Promise<S3ReadResponse> {
  return new Promise((resolve, reject) => {
    const declared = response.headers['content-length'];
    const expected = declared === undefined ? undefined : Number(declared);
    // Artifacts can be hundreds of MB: with the length known, one buffer is filled in place
    // instead of holding every chunk and then a concatenated copy.
    const whole =
      expected !== undefined && Number.isSafeInteger(expected) ? Buffer.allocUnsafe(expected) : undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    response.on('data', (chunk: Buffer) => {
      if (whole !== undefined && received + chunk.byteLength <= whole.byteLength) whole.set(chunk, received);
      else chunks.push(chunk);
      received += chunk.byteLength;
    });
    response.on('error', reject);
    // A request destroyed mid-body (a deadline) closes the response without an end.
    response.on('close', () => {
      if (!response.complete) reject(new Error(`S3 answer cut short after ${received} bytes`));
    });
    response.on('end', () => {
      // A connection cut mid-body ends the stream early; sha256 would catch it too, later and vaguer.
      if (response.statusCode === 200 && expected !== undefined && expected !== received) {
        reject(new Error(`S3 answer cut short: ${received} of ${expected} bytes`));
        return;
      }
      const body = whole !== undefined && received === whole.byteLength ? whole : Buffer.concat(chunks);
      const etag = response.headers.etag;
      resolve({ status: response.statusCode ?? 0, body, etag: typeof etag === 'string' ? etag : '' });
    });
  });
}

function requestError(what: string, response: S3ReadResponse): S3RequestError {
  const text = response.body.toString('utf8');
  const code = xmlValues(text, 'Code')[0] ?? 'Unknown';
  const message = xmlValues(text, 'Message')[0] ?? text.slice(0, 200);
  return new S3RequestError(
    response.status,
    code,
    `${what}: S3 answered ${response.status} ${code}: ${message}`,
  );
}

export function parseListPage(xml: string): ListPage {
  const keys = [...xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].flatMap((m) =>
    xmlValues(m[1] ?? '', 'Key'),
  );
  const commonPrefixes = [...xml.matchAll(/<CommonPrefixes>([\s\S]*?)<\/CommonPrefixes>/g)].flatMap((m) =>
    xmlValues(m[1] ?? '', 'Prefix'),
  );
  const truncated = xmlValues(xml, 'IsTruncated')[0] === 'true';
  const nextToken = truncated ? xmlValues(xml, 'NextContinuationToken')[0] : undefined;
  if (truncated && nextToken === undefined) {
    throw new Error('S3 listing is truncated but names no NextContinuationToken');
  }
  return { keys, commonPrefixes, ...(nextToken === undefined ? {} : { nextToken }) };
}

function xmlValues(xml: string, tag: string): string[] {
  const pattern = new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g');
  return [...xml.matchAll(pattern)].map((m) => decodeXml(m[1] ?? ''));
}

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    if (entity[0] !== '#') return XML_ENTITIES[entity.toLowerCase()] ?? '';
    const code =
      entity[1] === 'x' || entity[1] === 'X' ? Number.parseInt(entity.slice(2), 16) : Number(entity.slice(1));
    return String.fromCodePoint(code);
  });
}
