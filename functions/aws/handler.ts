import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { App } from '../../shared/app';
import type { ServeApp } from '../../shared/boot';
import type { Config } from '../../shared/config';
import {
  fromApiGatewayV1,
  fromApiGatewayV2,
  type HttpEvent,
  isV2Event,
  toApiGatewayV1Result,
  toApiGatewayV2Result,
} from './events';
import { createMetrics, powertoolsSink } from './metrics';

/** A Lambda handler for API Gateway REST (payload v1), HTTP API (v2) and Function URL events. */
export function createHandler(app: App, metrics?: Metrics) {
  const handler = middy(async (event: HttpEvent, _context: Context) => {
    if (isV2Event(event)) return toApiGatewayV2Result(await app.handle(fromApiGatewayV2(event)));
    return toApiGatewayV1Result(await app.handle(fromApiGatewayV1(event)));
  });
  // The core records into `metrics` through its sink; this flushes after success and after errors.
  return metrics === undefined ? handler : handler.use(logMetrics(metrics));
}

/** The deployed handler: the stage's app with Powertools EMF, flushed after each request. */
export function createStageHandler(serve: ServeApp, config: Config) {
  const metrics = createMetrics(config.metricsNamespace);
  return createHandler(serve(powertoolsSink(metrics)), metrics);
}
