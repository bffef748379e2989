import type { AddressInfo } from 'node:net';
import { HttpRequest, HttpResponse, type HttpResponseInit, InvocationContext } from '@azure/functions';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { createHandler } from '../../functions/aws/handler';
import { createAzureHandler } from '../../functions/azure/handler';
import { createLocalServer } from '../../functions/local/handler';
import type { App } from '../../shared/app';
import type { ConformanceCase } from './cases';

/** What a client sees, whichever platform answered. Header names are lower-case. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export type Send = (c: ConformanceCase) => Promise<Reply>;

interface LambdaResult {
  statusCode: number;
  headers?: Record<string, string | number | boolean>;
  body?: string;
  isBase64Encoded?: boolean;
}

function split(target: string): { path: string; query: string } {
  const at = target.indexOf('?');
  return at < 0 ? { path: target, query: '' } : { path: target.slice(0, at), query: target.slice(at + 1) };
}

function fromLambda(result: LambdaResult): Reply {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  const body = result.body ?? '';
  return {
    status: result.statusCode,
    headers,
    body: result.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'),
  };
}

/** Lambda passes text bodies as strings and binary ones as base64 (Function URLs: any non-text type). */
function lambdaBody(body: string | Buffer | undefined, alwaysBase64: boolean) {
  if (body === undefined) return { body: null, isBase64Encoded: false };
  if (typeof body === 'string' && !alwaysBase64) return { body, isBase64Encoded: false };
  return { body: Buffer.from(body).toString('base64'), isBase64Encoded: true };
}

const lambdaContext = { functionName: 'modelfleet-dev-infer', awsRequestId: 'conformance' } as Context;

export function apiGatewayV1(app: App): Send {
  const handler = createHandler(app);
  return async (c) => {
    const { path, query } = split(c.path);
    const params = Object.fromEntries(new URLSearchParams(query));
    const headers = c.headers ?? {};
    const event = {
      resource: '/{proxy+}',
      path,
      httpMethod: c.method,
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      queryStringParameters: query === '' ? null : params,
      multiValueQueryStringParameters: null,
      pathParameters: { proxy: path.slice(1) },
      stageVariables: null,
      requestContext: { stage: 'prod', path: `/prod${path}`, identity: { sourceIp: '127.0.0.1' } },
      ...lambdaBody(c.body, false),
    } as unknown as APIGatewayProxyEvent;
    return fromLambda((await handler(event, lambdaContext)) as LambdaResult);
  };
}

/** HTTP API payload v2 (a named stage prefixes rawPath) or a Function URL (`$default`, base64 bodies). */
export function payloadV2(app: App, kind: 'http-api' | 'function-url'): Send {
  const handler = createHandler(app);
  return async (c) => {
    const { path, query } = split(c.path);
    const stage = kind === 'http-api' ? 'prod' : '$default';
    const event = {
      version: '2.0',
      routeKey: kind === 'http-api' ? 'ANY /{proxy+}' : '$default',
      rawPath: kind === 'http-api' ? `/prod${path}` : path,
      rawQueryString: query,
      headers: Object.fromEntries(Object.entries(c.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      requestContext: {
        http: {
          method: c.method,
          path,
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'conformance',
        },
        stage,
        routeKey: '$default',
        requestId: 'conformance',
      },
      ...lambdaBody(c.body, kind === 'function-url'),
    } as unknown as APIGatewayProxyEventV2;
    return fromLambda((await handler(event, lambdaContext)) as LambdaResult);
  };
}

/** The Azure handler as the Functions worker calls it, and its result as the worker serialises it. */
export function azureFunctions(app: App, log: (level: string, line: string) => void = () => {}): Send {
  const handler = createAzureHandler(app);
  return async (c) => {
    const request = new HttpRequest({
      method: c.method,
      url: `http://127.0.0.1:7071${c.path}`,
      headers: c.headers ?? {},
      ...(c.body === undefined
        ? {}
        : { body: typeof c.body === 'string' ? { string: c.body } : { bytes: new Uint8Array(c.body) } }),
    });
    const context = new InvocationContext({
      invocationId: 'conformance',
      functionName: 'modelfleet',
      logHandler: (level, ...args) => log(level, args.map(String).join(' ')),
    });
    const response = new HttpResponse((await handler(request, context)) as HttpResponseInit);
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: Buffer.from(await response.arrayBuffer()),
    };
  };
}

/** Any server over real HTTP. Bodies go as bytes so fetch adds no content type of its own. */
export function overHttp(base: string): Send {
  return async (c) => {
    const response = await fetch(`${base}${c.path}`, {
      method: c.method,
      headers: c.headers ?? {},
      ...(c.body === undefined ? {} : { body: Buffer.from(c.body) }),
    });
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: Buffer.from(await response.arrayBuffer()),
    };
  };
}

export async function listenLocal(app: App): Promise<{ base: string; close: () => Promise<void> }> {
  const server = createLocalServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
