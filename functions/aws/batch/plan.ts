/** The batch state machine's first state (events.ts): the plan, and where the map reads its items. */
import { BatchPlanner } from '../../../shared/batch/planner';
import { parseBatchSettings } from '../../../shared/config/batch';
import { type ObjectCreatedEvent, objectOf, perInstance } from './events';

const planner = perInstance(() => new BatchPlanner(parseBatchSettings(process.env)));

export const plan = async (event: ObjectCreatedEvent) => {
  const { folder, key } = objectOf(event);
  const planned = await planner().plan(folder, key);
  const location = /^s3:\/\/([^/]+)\/(.+)$/.exec(planned.plan);
  if (location === null) throw new Error(`BATCH_OUTPUT must be an s3:// URL, got ${planned.out}`);
  return { ...planned, planBucket: location[1] as string, planKey: location[2] as string };
};
