import type { IncomingMessage } from 'node:http';
import type { HttpFunction, Request } from '@google-cloud/functions-framework';
import type { App } from '../../shared/app';
import { clientAddress } from '../../shared/http/client-address';
import { lowerCaseHeaders, type ServeRequest, type ServeResponse } from '../../shared/http/request';
import { cloudLoggingLine } from '../../shared/telemetry/cloud-logging';
import type { MetricSink } from '../../shared/telemetry/metric-event';
import { originalContentType } from './raw-body';

/** One Cloud Logging structured entry per request on stdout: the source of log-based metrics. */
export const cloudLoggingSink: MetricSink = (event) => {
  process.stdout.write(cloudLoggingLine(event));
};

export function createGcpFunction(app: App): HttpFunction {
  // then, not async/await: the framework runs each request in a node:domain, so every promise
  // pays its async hooks. The promise is still returned: the framework catches its rejection.
  return (req, res) =>
    app.handle(fromFrameworkRequest(req, app.config.trustedProxyHops)).then((response: ServeResponse) => {
      // writeHead/end rather than express's send: no charset or ETag rewriting of the core's headers.
      res.writeHead(response.status, response.headers).end(response.body);
    });
}

/**
 * A request as the core sees it, before its body: also what is known of one the framework failed
 * before the function ran (raw-body.ts). `target` is the path and query as received; `proxyHops`
 * is TRUSTED_PROXY_HOPS (shared/http/client-address.ts).
 */
export function withoutBody(req: IncomingMessage, proxyHops: number, target = req.url ?? '/'): ServeRequest {
  const url = new URL(target, 'http://localhost');
  const headers = lowerCaseHeaders(req.headers);
  const contentType = originalContentType(req);
  if (contentType === undefined) delete headers['content-type'];
  else headers['content-type'] = contentType;
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    // Not req.ip: the framework trusts every proxy, so that is the client-forgeable first entry.
    sourceIp: clientAddress(headers['x-forwarded-for'], proxyHops, req.socket.remoteAddress),
  };
}

export function fromFrameworkRequest(req: Request, proxyHops: number): ServeRequest {
  const request = withoutBody(req, proxyHops, req.originalUrl);
  // rawBody is the bytes as sent (set by the framework's parsers); req.body is never used.
  const body = req.rawBody;
  if (body !== undefined && body.length > 0) request.body = body;
  return request;
}
