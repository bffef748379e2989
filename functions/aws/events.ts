import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2,
  APIGatewayProxyResult,
  APIGatewayProxyStructuredResultV2,
} from 'aws-lambda';
import { lowerCaseHeaders, type ServeRequest, type ServeResponse } from '../../shared/http/request';

export type HttpEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2;

/** Payload v2 is shared by HTTP APIs and Lambda Function URLs; v1 is the REST API's. */
export function isV2Event(event: HttpEvent): event is APIGatewayProxyEventV2 {
  return (event as APIGatewayProxyEventV2).version === '2.0';
}

export function fromApiGatewayV1(event: APIGatewayProxyEvent): ServeRequest {
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  return {
    method: event.httpMethod,
    path: event.path,
    query,
    headers: lowerCaseHeaders(event.headers),
    body: decodeBody(event.body, event.isBase64Encoded),
    sourceIp: event.requestContext?.identity?.sourceIp,
  };
}

export function fromApiGatewayV2(event: APIGatewayProxyEventV2): ServeRequest {
  const stage = event.requestContext.stage;
  // A named HTTP API stage prefixes rawPath ("/prod/v2/..."); $default and Function URLs do not.
  const path =
    stage && stage !== '$default' && event.rawPath.startsWith(`/${stage}/`)
      ? event.rawPath.slice(stage.length + 1)
      : event.rawPath;
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(event.rawQueryString ?? '')) query[name] = value;
  const headers = lowerCaseHeaders(event.headers);
  if (event.cookies !== undefined && event.cookies.length > 0) headers['cookie'] = event.cookies.join('; ');
  return {
    method: event.requestContext.http.method,
    path,
    query,
    headers,
    body: decodeBody(event.body, event.isBase64Encoded),
    sourceIp: event.requestContext.http.sourceIp,
    platformCaller: iamCaller(event),
  };
}

/** Set by AWS after SigV4 verification (IAM-auth Function URL or HTTP API route, or an IAM-authorized invoke). */
function iamCaller(event: APIGatewayProxyEventV2): string | undefined {
  const iam = (event.requestContext as { authorizer?: { iam?: { userArn?: unknown } } }).authorizer?.iam;
  return typeof iam?.userArn === 'string' && iam.userArn !== '' ? iam.userArn : undefined;
}

export function toApiGatewayV1Result(response: ServeResponse): APIGatewayProxyResult {
  const binary = typeof response.body !== 'string';
  return {
    statusCode: response.status,
    headers: response.headers,
    body: encodeBody(response.body),
    isBase64Encoded: binary,
  };
}

export function toApiGatewayV2Result(response: ServeResponse): APIGatewayProxyStructuredResultV2 {
  return toApiGatewayV1Result(response);
}

/**
 * The inverse of `fromApiGatewayV2`: a Function URL (payload v2) event for a request, as an
 * IAM-authorized caller sends it. The pre-traffic hook invokes new versions with it.
 */
export function toApiGatewayV2Event(request: ServeRequest, iamCaller: string): APIGatewayProxyEventV2 {
  const query = new URLSearchParams(request.query).toString();
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: request.path,
    rawQueryString: query,
    headers: request.headers,
    requestContext: {
      http: { method: request.method, path: request.path, sourceIp: '127.0.0.1' },
      stage: '$default',
      authorizer: { iam: { userArn: iamCaller } },
    },
    isBase64Encoded: typeof request.body !== 'string' && request.body !== undefined,
    ...(request.body === undefined ? {} : { body: encodeBody(request.body) }),
  };
  return event as unknown as APIGatewayProxyEventV2;
}

/** The status and text body of a handler's result (the inverse of `toApiGatewayV2Result`). */
export function fromApiGatewayV2Result(result: Partial<APIGatewayProxyStructuredResultV2>): {
  status: number;
  body: string;
} {
  const text = result.isBase64Encoded ? Buffer.from(result.body ?? '', 'base64').toString() : result.body;
  return { status: result.statusCode ?? 0, body: text ?? '' };
}

function decodeBody(body: string | null | undefined, isBase64Encoded: boolean): string | Buffer | undefined {
  if (body === null || body === undefined) return undefined;
  return isBase64Encoded ? Buffer.from(body, 'base64') : body;
}

function encodeBody(body: string | Uint8Array): string {
  return typeof body === 'string'
    ? body
    : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
}
