import { AsyncLocalStorage } from 'node:async_hooks';
import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type { App } from '../../shared/app';
import { clientAddress } from '../../shared/http/client-address';
import { lowerCaseHeaders, type ServeRequest, type ServeResponse } from '../../shared/http/request';
import type { MetricSink } from '../../shared/telemetry/metric-event';
import { toAzureLogRecord } from '../../shared/telemetry/metric-formats';

// The Node worker runs invocations concurrently in one process: each metric line must go to the
// logger of the invocation that produced it, so the context travels with the async call.
const invocations = new AsyncLocalStorage<InvocationContext>();

/** The request's metric record, as JSON, through its invocation's logger (traces / FunctionAppLogs). */
export const invocationLogSink: MetricSink = (event) => {
  const { level, record } = toAzureLogRecord(event);
  const line = JSON.stringify(record);
  const context = invocations.getStore();
  if (context === undefined) process.stdout.write(`${line}\n`);
  else if (level === 'error') context.error(line);
  else if (level === 'warning') context.warn(line);
  else context.log(line);
};

/** Runs `work` as part of `context`'s invocation: its metric lines go to that invocation's logger. */
export function inInvocation<T>(context: InvocationContext, work: () => T): T {
  return invocations.run(context, work);
}

export function createAzureHandler(app: App): HttpHandler {
  return (request, context) =>
    invocations.run(context, async () =>
      toHttpResponseInit(await app.handle(await fromHttpRequest(request, app.config.trustedProxyHops))),
    );
}

/** `proxyHops`: TRUSTED_PROXY_HOPS, 1 under the Functions host (shared/config.ts). */
export async function fromHttpRequest(request: HttpRequest, proxyHops: number): Promise<ServeRequest> {
  const url = new URL(request.url);
  const headers = lowerCaseHeaders(Object.fromEntries(request.headers));
  const bytes = request.body === null ? undefined : new Uint8Array(await request.arrayBuffer());
  return {
    method: request.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    body: bytes === undefined || bytes.byteLength === 0 ? undefined : bytes,
    sourceIp: clientAddress(headers['x-forwarded-for'], proxyHops, undefined),
  };
}

export function toHttpResponseInit(response: ServeResponse): HttpResponseInit {
  return { status: response.status, headers: response.headers, body: response.body };
}
