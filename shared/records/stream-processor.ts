/**
 * One platform batch of records, start to finish: score them (stream-batch.ts), send results to the
 * sink and poison records to the dead-letter sink with their error, and say which records the
 * platform must deliver again. Nothing is acknowledged that was not written somewhere: a record
 * whose result or dead letter could not be written is redelivered, and a batch in which nothing
 * succeeded throws so that the platform retries it whole (a store outage loses nothing).
 */
import { gcpMetadataToken } from '../control/metric-sources/open';
import type { ModelStore } from '../store/types';
import { describeError, type Logger } from '../telemetry/log';
import { kinesisSink, snsSink, sqsSink } from './aws-sinks';
import { eventHubSink, pubSubSink } from './cloud-sinks';
import type { StreamRecord } from './record-format';
import { discardingSink, type RecordSink, type SinkMessage, storeSink } from './sinks';
import type { RecordOutcome, RecordScorer } from './stream-batch';
import type { SinkSpec, StreamSettings } from './stream-settings';

export interface BatchSummary {
  records: number;
  /** Results written to the sink. */
  scored: number;
  /** Poison records written to the dead-letter sink. */
  deadLettered: number;
  /** Ids of the records the platform must deliver again. */
  failed: string[];
}

/** Every record failed and nothing was written: the platform should retry the whole batch. */
export class BatchFailedError extends Error {
  override name = 'BatchFailedError';
}

export interface StreamProcessor {
  process(records: readonly StreamRecord[]): Promise<BatchSummary>;
}

export function createStreamProcessor(
  scorer: Pick<RecordScorer, 'score'>,
  settings: StreamSettings,
  sinks: { results: RecordSink; deadLetter?: RecordSink | undefined },
  log: Logger,
): StreamProcessor {
  return {
    async process(records) {
      const outcomes = await scorer.score(records, settings.defaults);
      const ok = outcomes.filter((o): o is Extract<RecordOutcome, { status: 'ok' }> => o.status === 'ok');
      const poison = outcomes.filter((o) => o.status === 'poison');
      const failed = new Set(outcomes.filter((o) => o.status === 'retry').map((o) => o.id));
      const unwritten = async (sink: RecordSink | undefined, messages: SinkMessage[], what: string) => {
        if (messages.length === 0) return [];
        if (sink === undefined) return messages.map((message) => message.id);
        try {
          return await sink.write(messages);
        } catch (err) {
          log.error(`stream ${what} write failed; the records will be redelivered`, {
            sink: sink.kind,
            ...describeError(err),
          });
          return messages.map((message) => message.id);
        }
      };
      const resultFailures = await unwritten(sinks.results, ok.map(resultMessage), 'result');
      const deadFailures = await unwritten(
        sinks.deadLetter,
        poison.map(deadLetterMessage(records)),
        'dead-letter',
      );
      for (const id of [...resultFailures, ...deadFailures]) failed.add(id);
      for (const outcome of poison) {
        if (sinks.deadLetter === undefined)
          log.warn('poison record left to the platform to redrive', {
            id: outcome.id,
            ...('error' in outcome ? outcome.error : {}),
          });
      }
      const summary = {
        records: records.length,
        scored: ok.length - resultFailures.length,
        deadLettered: sinks.deadLetter === undefined ? 0 : poison.length - deadFailures.length,
        failed: records.map((record) => record.id).filter((id) => failed.has(id)),
      };
      if (records.length > 0 && summary.failed.length === records.length) {
        throw new BatchFailedError(
          `none of the ${records.length} records could be processed; the batch will be retried`,
        );
      }
      return summary;
    },
  };
}

function resultMessage(outcome: Extract<RecordOutcome, { status: 'ok' }>): SinkMessage {
  return {
    id: outcome.id,
    body: outcome.body,
    attributes: {
      model: outcome.model,
      version: String(outcome.version),
      variant: outcome.variant,
      stage: outcome.stage,
    },
  };
}

/** The dead letter: the record's id, the error (status, class, message naming field/index), the record. */
function deadLetterMessage(records: readonly StreamRecord[]) {
  const byId = new Map(records.map((record) => [record.id, record]));
  return (outcome: RecordOutcome): SinkMessage => {
    const record = byId.get(outcome.id);
    const data = record?.data ?? '';
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('utf8');
    const error = 'error' in outcome ? outcome.error : undefined;
    return {
      id: outcome.id,
      body: JSON.stringify({ id: outcome.id, error, record: text, attributes: record?.attributes ?? {} }),
      attributes: { status: String(error?.status ?? 400), errorClass: error?.errorClass ?? 'invalid_input' },
    };
  };
}

/** The sink a spec names; `store` writes into the model repository's own store. */
export function openSink(spec: SinkSpec, store: ModelStore, stage: string): RecordSink {
  switch (spec.kind) {
    case 'none':
      return discardingSink;
    case 'store':
      return storeSink(store, spec.prefix, stage);
    case 'sqs':
      return sqsSink(spec.target, spec.aws);
    case 'sns':
      return snsSink(spec.target, spec.aws);
    case 'kinesis':
      return kinesisSink(spec.target, spec.aws);
    case 'pubsub':
      return pubSubSink({
        topic: spec.topic,
        endpoint: spec.endpoint,
        ...(spec.metadataHost === undefined ? {} : { accessToken: gcpMetadataToken(spec.metadataHost) }),
      });
    case 'eventhub':
      return eventHubSink(spec.connection);
  }
}
