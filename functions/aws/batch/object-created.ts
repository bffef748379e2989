/** The small-object trigger (events.ts): the whole job, plan to finish, in one invocation. */
import { BatchWorker } from '../../../shared/batch/worker';
import { parseBatchSettings } from '../../../shared/config/batch';
import { type ObjectCreatedEvent, objectOf, perInstance } from './events';

const worker = perInstance(() => new BatchWorker(parseBatchSettings(process.env)));

export const objectCreated = async (event: ObjectCreatedEvent) => {
  const { folder, key } = objectOf(event);
  const summary = await worker().whole(folder, key);
  return { out: worker().outputOf(key), rows: summary.rows, errors: summary.errors };
};
