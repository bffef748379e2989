/**
 * The Lambda entry point (serverless.yml: functions/aws/handler.handler). Split from
 * middy-handler.ts for the cold start: the stage's store reads start before the heavy modules load
 * (shared/boot.ts, docs/benchmarks.md section 3), so only light modules are imported here.
 */
import type { Context } from 'aws-lambda';
import { startServing } from '../../shared/boot';
import type { HttpEvent } from './events';

const { ready } = startServing(
  process.env,
  (serve, config) => (require('./handler') as typeof import('./handler')).createStageHandler(serve, config),
  [() => require('./handler')],
);

export async function handler(event: HttpEvent, context: Context): Promise<unknown> {
  return (await ready)(event, context);
}
