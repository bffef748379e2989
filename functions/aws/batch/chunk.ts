/**
 * One Distributed Map item of the batch state machine (events.ts): scores one chunk with the
 * CLI's own chunk worker (BatchWorker, shared/batch/worker.ts).
 */
import { BatchWorker } from '../../../shared/batch/worker';
import { parseBatchSettings } from '../../../shared/config/batch';
import { type ChunkEvent, perInstance } from './events';

const worker = perInstance(() => new BatchWorker(parseBatchSettings(process.env)));

export const chunk = async (event: ChunkEvent) => {
  const marker = await worker().chunk(event.out, event.index);
  return { index: marker.index, rows: marker.rows, errors: marker.errors.length };
};
