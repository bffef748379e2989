/**
 * The Lambda entry point (serverless.yml: functions/aws/handler.handler). It is split from
 * middy-handler.ts for the cold start: the store reads for the stage's models start first, and
 * the heavy modules load afterwards, one per event-loop turn, so the reads progress while they
 * load (docs/benchmarks.md, section 3). Settings are parsed before anything else: a bad one fails
 * the init with the variable's name.
 */
import type { Context } from 'aws-lambda';
import { loadInTurns } from '../../shared/boot';
import { parseConfig } from '../../shared/config';
import { PrefetchingStore } from '../../shared/prefetch';
import { openStore } from '../../shared/store';
import type { HttpEvent } from './events';

const config = parseConfig(process.env);
const store = new PrefetchingStore(openStore(config.repository, config.store), config.stage);

// require, not import: the point is when each one loads.
const ready = loadInTurns([
  () => require('../../shared/onnx'),
  () => require('../../shared/deployment'),
  () => require('./middy-handler'),
]).then(() => {
  const { createStageHandler } = require('./middy-handler') as typeof import('./middy-handler');
  return createStageHandler(config, store, () => store.release());
});
// Each invocation rethrows an init failure; without this it would also be an unhandled rejection.
ready.catch(() => undefined);

export async function handler(event: HttpEvent, context: Context): Promise<unknown> {
  return (await ready)(event, context);
}
