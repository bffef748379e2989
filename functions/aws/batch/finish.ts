/** The batch state machine's last state (events.ts): errors.jsonl and _SUCCESS.json. */
import { BatchFinisher } from '../../../shared/batch/finisher';
import { parseBatchSettings } from '../../../shared/config/batch';
import { perInstance } from './events';

const finisher = perInstance(() => new BatchFinisher(parseBatchSettings(process.env)));

export const finish = async (event: { out: string }) => {
  const summary = await finisher().finish(event.out);
  return { out: event.out, rows: summary.rows, errors: summary.errors, chunks: summary.parts.length };
};
