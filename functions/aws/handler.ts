import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { type App, createApp } from '../../shared/app';
import { parseConfig } from '../../shared/config';
import {
  fromApiGatewayV1,
  fromApiGatewayV2,
  type HttpEvent,
  isV2Event,
  toApiGatewayV1Result,
  toApiGatewayV2Result,
} from './events';

/** A Lambda handler for API Gateway REST (payload v1), HTTP API (v2) and Function URL events. */
export function createHandler(app: App, ready: Promise<unknown> = Promise.resolve()) {
  return middy(async (event: HttpEvent, _context: Context) => {
    await ready;
    if (isV2Event(event)) return toApiGatewayV2Result(await app.handle(fromApiGatewayV2(event)));
    return toApiGatewayV1Result(await app.handle(fromApiGatewayV1(event)));
  });
}

// Built once per instance, at cold start: a bad setting fails the init with the variable's name.
// The preload starts during init; the first invocation waits for it (it never rejects).
const app = createApp({ config: parseConfig(process.env) });
export const handler = createHandler(app, app.preload());
