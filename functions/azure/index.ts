/**
 * Azure Functions entry point (Node.js v4 programming model; package.json `main`). One anonymous
 * catch-all HTTP trigger serves the whole surface: host.json sets routePrefix "" so paths are
 * /v2/..., and authentication is the core's job, not the Functions key's. Settings come from the
 * app settings (environment), parsed once per instance.
 */
import { app as functions } from '@azure/functions';
import { createApp } from '../../shared/app';
import { parseConfig } from '../../shared/config';
import { withPreload } from '../../shared/preload';
import { createAzureHandler, invocationLogSink } from './handler';

functions.http('modelfleet', {
  route: '{*path}',
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: createAzureHandler(
    withPreload(createApp({ config: parseConfig(process.env), metrics: invocationLogSink })),
  ),
});
