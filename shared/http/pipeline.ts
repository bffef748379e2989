import { describeError, type Logger } from '../telemetry/log';
import type { MetricSink, RequestMetricEvent } from '../telemetry/metric-event';
import { preflightResponse } from './cors';
import { type FinishSettings, type MetricFields, ResponseFinisher, requestIdOf } from './finish';
import type { ServeRequest, ServeResponse } from './request';
import { matchRoute, type Params, type Route, routeNameOf } from './router';

export interface RequestContext<Observed = unknown> {
  request: ServeRequest;
  requestId: string;
  metric: MetricFields;
  /** Work after the response is computed (shadow runs); `shadowMode` says if it is awaited. */
  after: (() => Promise<void>)[];
  /** What the route saw (an inference's inputs and outputs), for the `finished` hook. */
  observed?: Observed;
}

export interface PipelineOptions<Observed> extends FinishSettings {
  routes: readonly Route<RequestContext<Observed>>[];
  /** Credentials and scope for a route; returns a promise only when it must wait (JWT keys). */
  authorize: (request: ServeRequest, routeName: string, params: Params) => unknown;
  /** `inline`: the response waits for `after` work; `background`: it runs after the response. */
  shadowMode: 'inline' | 'background';
  metrics: MetricSink;
  log: Logger;
  /** Every request's metric event and what its route observed (capture, drift); must not throw. */
  finished?: (event: RequestMetricEvent, observed: Observed | undefined) => void;
}

export interface Pipeline {
  handle(request: ServeRequest): Promise<ServeResponse>;
  reject(request: ServeRequest, err: unknown): ServeResponse;
  /** Route, credentials and rate limits from the headers alone; `handle` then skips them. */
  admit(request: ServeRequest): Promise<void>;
  /** Resolves when background work left by earlier responses has finished. */
  settled(): Promise<void>;
}

/**
 * The one path every request takes: preflight, route, authorize, run, then the finisher's headers
 * and metric event. Transport-neutral: adapters build the ServeRequest and write the response.
 */
export function createPipeline<Observed = unknown>(options: PipelineOptions<Observed>): Pipeline {
  const { routes, metrics, log } = options;
  const finisher = new ResponseFinisher(options, log);
  const background = new BackgroundWork(log);
  const admitted = new WeakSet<ServeRequest>();

  // Synchronous up to the route's own promise: on functions-framework every promise runs the
  // async hooks of the request's domain, so an API-key request awaits only what the route awaits.
  const respond = (ctx: RequestContext<Observed>, route: Route<RequestContext<Observed>>, params: Params) => {
    const authorized = admitted.has(ctx.request)
      ? undefined
      : options.authorize(ctx.request, route.name, params);
    // Only JWT verification is asynchronous.
    if (authorized instanceof Promise) return authorized.then(() => route.run(ctx, params));
    return route.run(ctx, params);
  };

  const handle = async (request: ServeRequest): Promise<ServeResponse> => {
    const started = performance.now();
    const ctx: RequestContext<Observed> = { request, requestId: requestIdOf(request), metric: {}, after: [] };
    let response: ServeResponse;
    let routeName = 'unknown';
    try {
      const preflight = preflightResponse(options.corsOrigins, request);
      if (preflight === undefined) {
        const match = matchRoute(routes, request.method.toUpperCase(), request.path);
        // The guard sees the same model and version the handler serves: a version pinned in an
        // MLflow query string needs the admin scope just like one in an OIP path.
        const params = match.route.params?.(request) ?? match.params;
        const routed = respond(ctx, match.route, params);
        response = routed instanceof Promise ? await routed : routed;
        routeName = match.route.name;
      } else {
        response = preflight;
        routeName = 'preflight';
      }
      response.headers['x-request-id'] = ctx.requestId;
    } catch (err) {
      routeName = routeNameOf(routes, request);
      response = finisher.error(err, ctx.requestId, routeName, ctx.metric);
    }
    const event = finisher.seal(request, response, ctx.requestId, routeName, started, ctx.metric);
    options.finished?.(event, ctx.observed);
    if (ctx.after.length === 0) {
      metrics(event);
      return response;
    }
    // The event waits for the shadow so that its comparison is recorded with the request.
    const finish = async () => {
      for (const task of ctx.after) await task();
      metrics({ ...event, ...ctx.metric });
    };
    if (options.shadowMode === 'inline') await finish();
    else background.run(finish, ctx.requestId);
    return response;
  };

  // An adapter that cannot build the whole request (its body is over the limit) still answers
  // like the core: request id, headers, one metric event under the route the path names.
  const reject = (request: ServeRequest, err: unknown): ServeResponse => {
    const started = performance.now();
    const requestId = requestIdOf(request);
    const routeName = routeNameOf(routes, request);
    const metric: MetricFields = {};
    const response = finisher.error(err, requestId, routeName, metric);
    metrics(finisher.seal(request, response, requestId, routeName, started, metric));
    return response;
  };

  const admit = async (request: ServeRequest): Promise<void> => {
    if (preflightResponse(options.corsOrigins, request) !== undefined) return;
    const match = matchRoute(routes, request.method.toUpperCase(), request.path);
    await options.authorize(request, match.route.name, match.route.params?.(request) ?? match.params);
    admitted.add(request);
  };

  return { handle, reject, admit, settled: () => background.settled() };
}

/** Work that runs after its response is written (background shadows), awaited by `settled`. */
class BackgroundWork {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log: Logger) {}

  run(work: () => Promise<void>, requestId: string): void {
    // setImmediate lets the adapter write the response before the shadow takes the thread.
    const done = new Promise<void>((resolve) =>
      setImmediate(
        () =>
          void work()
            .catch((err: unknown) =>
              this.log.error('shadow bookkeeping failed', { requestId, ...describeError(err) }),
            )
            .finally(resolve),
      ),
    );
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
  }

  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
