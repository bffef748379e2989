import { ConfigError } from '../errors';
import {
  type AwsTarget,
  RECORD_FORMATS,
  type SinkSpec,
  type StreamSettings,
} from '../records/stream-settings';
import { isModelName, versionOf } from '../repository/names';
import { parseAwsCallSettings } from './aws';
import { type Env, readChoice } from './env';

export type { SinkSpec, StreamSettings };

export const SINK_KINDS = ['none', 'store', 'sqs', 'sns', 'kinesis', 'pubsub', 'eventhub'] as const;

/** The stream entries' settings, read once at cold start; `stage` is MODELFLEET_STAGE. */
export function parseStreamSettings(env: Env, stage: string): StreamSettings {
  const model = env['STREAM_MODEL']?.trim() || undefined;
  if (model !== undefined && !isModelName(model)) {
    throw new ConfigError('STREAM_MODEL', `"${model}" is not a model name`);
  }
  const rawVersion = env['STREAM_MODEL_VERSION']?.trim() || undefined;
  const version = rawVersion === undefined ? undefined : versionOf(rawVersion);
  if (rawVersion !== undefined && version === undefined) {
    throw new ConfigError('STREAM_MODEL_VERSION', `expected a version number, got "${rawVersion}"`);
  }
  const format = readChoice(env, 'STREAM_FORMAT', RECORD_FORMATS, 'auto');
  const rawSink = env['STREAM_SINK']?.trim();
  if (!rawSink) {
    throw new ConfigError('STREAM_SINK', `is required: one of ${SINK_KINDS.join(', ')} (docs/streaming.md)`);
  }
  const rawDeadLetter = env['STREAM_DEAD_LETTER']?.trim();
  return {
    defaults: { model, version, stage, format },
    sink: parseSink(env, 'STREAM_SINK', rawSink),
    ...(rawDeadLetter ? { deadLetter: parseSink(env, 'STREAM_DEAD_LETTER', rawDeadLetter) } : {}),
  };
}

/** `kind[:target]`, e.g. `sqs:https://sqs.eu-west-1.amazonaws.com/123456789012/predictions`. */
function parseSink(env: Env, name: string, raw: string): SinkSpec {
  const colon = raw.indexOf(':');
  const kind = colon < 0 ? raw : raw.slice(0, colon);
  const target = colon < 0 ? '' : raw.slice(colon + 1).trim();
  const need = (what: string) => {
    if (target === '') throw new ConfigError(name, `${kind} needs ${what}: ${kind}:<${what}>`);
    return target;
  };
  switch (kind) {
    case 'none':
      return { kind };
    case 'store':
      return { kind, prefix: target || (name === 'STREAM_SINK' ? 'predictions' : 'dead-letters') };
    case 'sqs':
      return { kind, target: need('queue URL'), aws: awsTarget(env, 'sqs') };
    case 'sns':
      return { kind, target: need('topic ARN'), aws: awsTarget(env, 'sns') };
    case 'kinesis':
      return { kind, target: need('stream name or ARN'), aws: awsTarget(env, 'kinesis') };
    case 'pubsub':
      return pubSubTarget(env, name, need('topic'));
    case 'eventhub':
      return { kind, connection: eventHubConnection(env, name, need('connection string')) };
    default:
      throw new ConfigError(name, `unknown sink "${kind}"; expected one of ${SINK_KINDS.join(', ')}`);
  }
}

/** The function's credentials and the service endpoint (AWS_ENDPOINT_URL_<SERVICE>, as the SDKs read it). */
function awsTarget(env: Env, service: 'sqs' | 'sns' | 'kinesis'): AwsTarget {
  const { region, credentials } = parseAwsCallSettings(env);
  const override = env[`AWS_ENDPOINT_URL_${service.toUpperCase()}`]?.trim();
  return { region, credentials, endpoint: override || `https://${service}.${region}.amazonaws.com` };
}

function pubSubTarget(env: Env, name: string, topic: string): SinkSpec {
  if (!/^projects\/[^/]+\/topics\/[^/]+$/.test(topic)) {
    throw new ConfigError(name, `pubsub needs projects/<project>/topics/<topic>, got "${topic}"`);
  }
  // The client libraries' convention: an emulator host means plain HTTP and no token.
  const emulator = env['PUBSUB_EMULATOR_HOST']?.trim();
  if (emulator) return { kind: 'pubsub', topic, endpoint: `http://${emulator}` };
  return {
    kind: 'pubsub',
    topic,
    endpoint: 'https://pubsub.googleapis.com',
    metadataHost: env['GCE_METADATA_HOST'] || 'metadata.google.internal',
  };
}

function eventHubConnection(env: Env, name: string, text: string) {
  const parts = new Map(
    text
      .split(';')
      .filter((part) => part.includes('='))
      .map((part) => [
        part.slice(0, part.indexOf('=')).trim().toLowerCase(),
        part.slice(part.indexOf('=') + 1).trim(),
      ]),
  );
  const part = (key: string) => {
    const value = parts.get(key.toLowerCase());
    if (!value) throw new ConfigError(name, `the Event Hubs connection string has no ${key}`);
    return value;
  };
  const host = new URL(part('Endpoint')).host;
  const override = env['EVENTHUB_ENDPOINT_URL']?.trim();
  return {
    endpoint: override || `https://${host}`,
    host,
    hub: part('EntityPath'),
    keyName: part('SharedAccessKeyName'),
    key: part('SharedAccessKey'),
  };
}
