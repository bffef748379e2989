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
import { emfSink } from './metrics';

/** A Lambda handler for API Gateway REST (payload v1), HTTP API (v2) and Function URL events. */
export function createHandler(app: App) {
  return middy(async (event: HttpEvent, _context: Context) => {
    if (isV2Event(event)) return toApiGatewayV2Result(await app.handle(fromApiGatewayV2(event)));
    return toApiGatewayV1Result(await app.handle(fromApiGatewayV1(event)));
  });
}

/** The deployed handler: the stage's app, printing each request's EMF document as it records it. */
export function createStageHandler(serve: ServeApp, config: Config) {
  return createHandler(serve(emfSink(config.metricsNamespace)));
}
