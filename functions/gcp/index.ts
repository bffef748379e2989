/**
 * Google Cloud Functions entry point: `--target modelfleet`, signature type http. One function
 * serves the whole HTTP surface; settings come from the environment, parsed once per instance.
 * The function is registered at once and waits for the cold start (shared/boot.ts), which reads
 * the store while the modules load.
 */
import { type HttpFunction, http } from '@google-cloud/functions-framework';
import type { App } from '../../shared/app';
import { startServing } from '../../shared/boot';
import { cloudLoggingSink, createGcpFunction, withoutBody } from './handler';
import { installRawBodyMode } from './raw-body';

let app: App | undefined;
const { config, ready } = startServing(process.env, (serve) => {
  // Cloud Run functions serve several requests per instance (infra/gcp: concurrency 4).
  app = serve(cloudLoggingSink, 'many');
  return createGcpFunction(app);
});
installRawBodyMode(
  config.exposeInternals,
  (req, err) => app?.reject(withoutBody(req, config.trustedProxyHops), err),
  config.maxBodyBytes,
);
// Once the cold start is over, requests go straight to the function: no await per request.
let serveNow: HttpFunction | undefined;
ready.then(
  (serve) => {
    serveNow = serve;
  },
  // A failed cold start answers each request through `ready`'s rejection, below.
  () => undefined,
);
http('modelfleet', (request, response) =>
  serveNow === undefined ? ready.then((serve) => serve(request, response)) : serveNow(request, response),
);
