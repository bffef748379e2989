import { randomUUID } from 'node:crypto';
import { errorClassOf } from '../errors';
import { describeError, type Logger } from '../telemetry/log';
import type { RequestMetricEvent } from '../telemetry/metric-event';
import { corsHeaders } from './cors';
import { toErrorResponse } from './error-response';
import type { ServeRequest, ServeResponse } from './request';
import { withSecurityHeaders } from './security-headers';

export interface FinishSettings {
  stage: string;
  corsOrigins: readonly string[];
  exposeInternals: boolean;
}

/** What the metric event learns while a request runs (model, variant, timings, shadow results). */
export type MetricFields = Partial<RequestMetricEvent>;

/**
 * Finishes every response the core gives, however it was produced (a route, an error, a request
 * the adapter refused early), so that all of them carry the same headers and one metric event.
 */
export class ResponseFinisher {
  private coldStart = true;

  constructor(
    private readonly settings: FinishSettings,
    private readonly log: Logger,
  ) {}

  /** The client's error response; failures the server caused are logged with their cause. */
  error(err: unknown, requestId: string, routeName: string, metric: MetricFields): ServeResponse {
    metric.errorClass = errorClassOf(err);
    if (
      metric.errorClass === 'internal' ||
      metric.errorClass === 'unavailable' ||
      metric.errorClass === 'integrity'
    ) {
      this.log.error('request failed', { requestId, route: routeName, ...describeError(err) });
    }
    return toErrorResponse(err, { exposeInternals: this.settings.exposeInternals, requestId });
  }

  /** Security and CORS headers on the response, and its metric event. */
  seal(
    request: ServeRequest,
    response: ServeResponse,
    requestId: string,
    routeName: string,
    started: number,
    metric: MetricFields,
  ): RequestMetricEvent {
    withSecurityHeaders(response);
    Object.assign(response.headers, corsHeaders(this.settings.corsOrigins, request));
    const event: RequestMetricEvent = {
      timestamp: isoTimestamp(),
      requestId,
      stage: this.settings.stage,
      route: routeName,
      method: request.method.toUpperCase(),
      status: response.status,
      coldStart: this.coldStart,
      latencyMs: performance.now() - started,
    };
    // Object.assign, not a spread in the literal: the same event, without V8's slow object spread.
    Object.assign(event, metric);
    this.coldStart = false;
    return event;
  }
}

/**
 * The answer when the core itself cannot give one (it is not built yet, or finishing failed): the
 * same JSON error shape and security headers, without a metric event. Every adapter's last resort.
 */
export function fallbackResponse(err: unknown, exposeInternals: boolean): ServeResponse {
  return withSecurityHeaders(toErrorResponse(err, { exposeInternals }));
}

/** The core's answer to a request an adapter refused, or the fallback should the core fail too. */
export function rejectOrFallback(
  /** The core's `reject`; undefined, or returning undefined, while the core is not ready. */
  reject: ((err: unknown) => ServeResponse | undefined) | undefined,
  err: unknown,
  exposeInternals: boolean,
): ServeResponse {
  if (reject !== undefined) {
    try {
      const response = reject(err);
      if (response !== undefined) return response;
    } catch {
      // Finishing failed (it should not): the bare answer below still tells the client what is wrong.
    }
  }
  return fallbackResponse(err, exposeInternals);
}

/** The caller's request id when it is a safe token, else a new one. */
export function requestIdOf(request: ServeRequest): string {
  const given = request.headers['x-request-id'];
  return given !== undefined && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
}

let isoMs = Number.NaN;
let iso = '';

/** `new Date().toISOString()`, formatted once per millisecond rather than once per request. */
function isoTimestamp(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    iso = new Date(ms).toISOString();
    isoMs = ms;
  }
  return iso;
}
