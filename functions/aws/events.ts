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

function decodeBody(body: string | null | undefined, isBase64Encoded: boolean): string | Buffer | undefined {
  if (body === null || body === undefined) return undefined;
  return isBase64Encoded ? Buffer.from(body, 'base64') : body;
}

function encodeBody(body: string | Uint8Array): string {
  return typeof body === 'string'
    ? body
    : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
}
