/**
 * Azure Functions entry point (Node.js v4 programming model; package.json `main`). One anonymous
 * catch-all HTTP trigger serves the whole surface: host.json sets routePrefix "" so paths are
 * /v2/..., and authentication is the core's job, not the Functions key's. Settings come from the
 * app settings (environment), parsed once per instance; the trigger is registered at once and
 * waits for the cold start (shared/boot.ts), which reads the store while the modules load. The
 * rollout guard is another app (functions/azure/guard.ts is its entry): it runs under its own
 * identity, the only one allowed to write deployments.
 */
import { app as functions } from '@azure/functions';
import { startServing } from '../../shared/boot';
import { createAzureHandler, invocationLogSink } from './handler';

// One Functions host process serves several invocations at once.
const { ready } = startServing(process.env, (serve) => createAzureHandler(serve(invocationLogSink, 'many')));

functions.http('modelfleet', {
  route: '{*path}',
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: async (request, context) => (await ready)(request, context),
});
