import type { App } from './app';
import { type Config, parseConfig } from './config';
import { parseStreamSettings, type StreamSettings } from './config/streaming';
import type { StreamProcessor } from './records/stream-processor';
import { PrefetchingStore } from './repository/prefetch';
import { FsModelStore, openStore } from './store';
import { createLogger } from './telemetry/log';
import type { MetricSink } from './telemetry/metric-event';

/**
 * Runs module loads one per event-loop turn. `require` is synchronous: while a module graph loads,
 * no I/O callback runs, so a cold start that loads everything at once stalls reads it has already
 * started until the end. Yielding between the big loads lets each answer that arrived be handled
 * (and the next read sent) before the next load. The loads themselves must not depend on order.
 */
export async function loadInTurns(loads: readonly (() => unknown)[]): Promise<void> {
  for (const load of loads) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    load();
  }
}

/**
 * Builds the app on the prefetching store, preload started; `metrics` is the platform's sink.
 * `many`: the platform hands one instance several requests at once (Cloud Run functions, Azure
 * Functions), so the calls of one event-loop turn share runs (serving/turn-batcher.ts); `one`
 * (Lambda) runs each call at once, as there is never a second to share with.
 */
export type ServeApp = (metrics: MetricSink, requestsAtOnce?: 'one' | 'many') => App;

/**
 * The cold start of every cloud entry, in the order that overlaps its parts: settings first (a bad
 * one fails the init naming the variable), then the stage's store reads (`PrefetchingStore`), then
 * onnxruntime, the schemas, the core and the adapter's own `loads`, one per turn, and finally
 * `build`, which wraps the app for the platform. The entry registers its handler at once and lets
 * it await `ready`; only light modules may be imported at the top of an entry.
 */
export function startServing<T>(
  env: Readonly<Record<string, string | undefined>>,
  build: (serve: ServeApp, config: Config) => T,
  loads: readonly (() => unknown)[] = [],
): { config: Config; ready: Promise<T> } {
  const config = parseConfig(env);
  const opened = openStore(config.repository, config.store);
  if (opened instanceof FsModelStore) opened.requireFolder();
  const store = new PrefetchingStore(opened, config.stage);
  // require, not import: the point is when each one loads.
  const ready = loadInTurns([
    () => require('./serving/onnx'),
    // onnxruntime's environment starts while the reads are in flight (its init runs in a later turn).
    () =>
      void (require('./serving/native-session') as typeof import('./serving/native-session')).startRuntime(),
    () => require('./repository/deployment'),
    () => require('./app'),
    ...loads,
  ]).then(() => {
    const { createApp } = require('./app') as typeof import('./app');
    const { withPreload } = require('./serving/preload') as typeof import('./serving/preload');
    const serve: ServeApp = (metrics, requestsAtOnce = 'one') => {
      const engine =
        requestsAtOnce === 'many'
          ? (require('./serving/turn-batcher') as typeof import('./serving/turn-batcher')).turnBatchingEngine(
              createLogger(),
            )
          : undefined;
      const app = createApp({ config, store, metrics, ...(engine === undefined ? {} : { engine }) });
      return withPreload(app, () => store.release());
    };
    return build(serve, config);
  });
  // Each request rethrows an init failure; without this it would also be an unhandled rejection.
  ready.catch(() => undefined);
  return { config, ready };
}

/** What a stream entry gets: a processor per metric sink, built on the app `startServing` builds. */
export type StartStream = (metrics: MetricSink) => StreamProcessor;

/**
 * The cold start of the stream entries (functions/<cloud>/stream*): `startServing`, plus the stream
 * settings (STREAM_SINK, STREAM_MODEL, …; a bad one fails the cold start by name) and the sinks.
 */
export function startStreaming<T>(
  env: Readonly<Record<string, string | undefined>>,
  build: (start: StartStream, config: Config) => T,
  loads: readonly (() => unknown)[] = [],
): { config: Config; settings: StreamSettings; ready: Promise<T> } {
  const holder: { settings?: StreamSettings } = {};
  const started = startServing(
    env,
    (serve, config) =>
      build((metrics) => {
        const settings = holder.settings as StreamSettings;
        const app = serve(metrics);
        const { createStreamProcessor, openSink } =
          require('./records/stream-processor') as typeof import('./records/stream-processor');
        const open = (spec: StreamSettings['sink']) => openSink(spec, app.repository.store, config.stage);
        const sinks = {
          results: open(settings.sink),
          deadLetter: settings.deadLetter === undefined ? undefined : open(settings.deadLetter),
        };
        return createStreamProcessor(app.records, settings, sinks, createLogger());
      }, config),
    [() => require('./records/stream-processor'), ...loads],
  );
  holder.settings = parseStreamSettings(env, started.config.stage);
  return { ...started, settings: holder.settings };
}
