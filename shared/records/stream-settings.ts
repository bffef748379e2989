/** What a stream function is configured with (parsed from the environment by config/streaming.ts). */
import type { AwsCredentials } from '../store/sigv4';

export const RECORD_FORMATS = ['auto', 'oip', 'mlflow', 'tfserving', 'row'] as const;
export type RecordFormatName = (typeof RECORD_FORMATS)[number];

/** What the function's configuration supplies when a record does not say. */
export interface RecordDefaults {
  model?: string | undefined;
  version?: number | undefined;
  stage: string;
  format: RecordFormatName;
}

/** Where a stream function sends results (STREAM_SINK) or poison records (STREAM_DEAD_LETTER). */
export type SinkSpec =
  | { kind: 'none' }
  | { kind: 'store'; prefix: string }
  | { kind: 'sqs' | 'sns' | 'kinesis'; target: string; aws: AwsTarget }
  | { kind: 'pubsub'; topic: string; endpoint: string; metadataHost?: string }
  | {
      kind: 'eventhub';
      connection: { endpoint: string; host: string; hub: string; keyName: string; key: string };
    };

export interface AwsTarget {
  region: string;
  credentials: AwsCredentials;
  endpoint: string;
}

export interface StreamSettings {
  defaults: RecordDefaults;
  sink: SinkSpec;
  /** Absent: poison records are reported failed to the platform, whose own redrive/DLQ takes them. */
  deadLetter?: SinkSpec;
}
