/**
 * GCP batch entry (`--target modelfleetBatch`, its own function; infra/gcp/batch/): the Cloud
 * Workflow started by Eventarc for each object finalized in the input bucket calls it once per
 * step, with an OIDC token: `{"step":"plan"|"whole", "bucket", "name"}`, then
 * `{"step":"chunk","out","index"}` per chunk (a parallel for), then `{"step":"finish","out"}`.
 * Every step is a BatchWorker call, the chunk step the CLI's own chunk worker.
 */
import { http } from '@google-cloud/functions-framework';
import { BatchWorker } from '../../shared/batch/worker';
import { parseBatchSettings } from '../../shared/config/batch';
import { errorClassOf } from '../../shared/errors';

export interface BatchStep {
  step?: string;
  bucket?: string;
  name?: string;
  out?: string;
  index?: number;
}

let worker: BatchWorker | undefined;
const current = () => {
  worker ??= new BatchWorker(parseBatchSettings(process.env));
  return worker;
};

export async function runStep(body: BatchStep): Promise<unknown> {
  const batch = current();
  const object = () => {
    if (body.bucket === undefined || body.name === undefined) throw new Error('bucket and name are required');
    const slash = body.name.lastIndexOf('/');
    return {
      folder: slash === -1 ? `gs://${body.bucket}` : `gs://${body.bucket}/${body.name.slice(0, slash)}`,
      key: body.name.slice(slash + 1),
    };
  };
  switch (body.step) {
    case 'plan': {
      const { folder, key } = object();
      return batch.plan(folder, key);
    }
    case 'whole': {
      const { folder, key } = object();
      const summary = await batch.whole(folder, key);
      return { out: batch.outputOf(key), rows: summary.rows, errors: summary.errors };
    }
    case 'chunk':
      return { index: (await batch.chunk(String(body.out), Number(body.index))).index };
    case 'finish': {
      const summary = await batch.finish(String(body.out));
      return { rows: summary.rows, errors: summary.errors };
    }
    default:
      throw new Error(`unknown step ${JSON.stringify(body.step)}`);
  }
}

/** For tests: the next call reads the environment again. */
export function resetBatchWorker(): void {
  worker = undefined;
}

http('modelfleetBatch', async (request, response) => {
  try {
    response.json(await runStep(request.body as BatchStep));
  } catch (err) {
    // A 4xx tells the workflow not to retry (bad input); anything else is retried by its policy.
    const status = errorClassOf(err) === 'invalid_input' || errorClassOf(err) === 'not_found' ? 400 : 500;
    response.status(status).json({ error: err instanceof Error ? err.message : String(err) });
  }
});
