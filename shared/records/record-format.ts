/**
 * What one streamed record (an SQS message, a Kinesis or Kafka record, a Pub/Sub message, an Event
 * Hubs event) asks of the core: which model and stage, and a body in one of the HTTP payload
 * formats, so that the same protocol parsers validate it. A record is
 * - an OIP infer request, an MLflow scoring body or a TF-Serving predict body, as POSTed over HTTP;
 * - a flat JSON row (or an array of rows) keyed by the manifest's `features` or the input names,
 *   read as MLflow `dataframe_records`;
 * - any of those under `payload` in an envelope `{model, version, stage, format, payload}`.
 * Model, version and stage come from the envelope, else the message's attributes, else the
 * function's configuration (STREAM_MODEL, ...).
 */
import { BadRequestError } from '../errors';
import type { ServeRequest } from '../http/request';
import { MLFLOW_FORMATS } from '../protocol/mlflow';
import { MLFLOW, OIP, type PayloadFormat, type PayloadLimits, TF_SERVING } from '../protocol/payloads';
import { isPlainObject } from '../protocol/tabular';
import { modelName, stageNameProblem, versionNumber } from '../repository/names';
import { parseJsonBody } from '../security/body';
import { typeName } from '../tensor/tensor';
import { RECORD_FORMATS, type RecordDefaults, type RecordFormatName } from './stream-settings';

export type { RecordDefaults, RecordFormatName };

/** A record as the platform handed it over: its id there, its bytes, its string attributes. */
export interface StreamRecord {
  /** What the platform retries by: SQS messageId, Kinesis sequence number, Kafka partition-offset… */
  id: string;
  data: string | Uint8Array;
  attributes?: Readonly<Record<string, string>>;
}

export interface DecodedRecord {
  id: string;
  model: string;
  stage: string;
  pinnedVersion?: number | undefined;
  format: PayloadFormat;
  body: unknown;
  /** Attributes, lower-cased: routing reads a sticky key from them as it does from headers. */
  headers: Record<string, string>;
}

const ENVELOPE_KEYS = new Set(['model', 'version', 'stage', 'format', 'payload', 'id']);

/** Decodes and vets one record; a BadRequestError names what is wrong (it is dead-lettered). */
export function decodeRecord(
  record: StreamRecord,
  defaults: RecordDefaults,
  limits: PayloadLimits,
): DecodedRecord {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [name, value] of Object.entries(record.attributes ?? {})) headers[name.toLowerCase()] = value;
  const request: ServeRequest = { method: 'POST', path: '/', query: {}, headers, body: record.data };
  const parsed = parseJsonBody(request, limits);
  const envelope = isEnvelope(parsed) ? parsed : undefined;
  const field = (name: string): unknown => envelope?.[name] ?? headers[name];
  const model = modelOf(field('model') ?? defaults.model);
  const stage = stageOf(field('stage') ?? defaults.stage);
  const pinnedVersion = versionOf(field('version') ?? defaults.version);
  const formatName = formatNameOf(field('format') ?? defaults.format);
  const payload = envelope === undefined ? parsed : envelope['payload'];
  const [format, body] = formatOf(formatName, payload);
  return { id: record.id, model, stage, pinnedVersion, format, body, headers };
}

function isEnvelope(value: unknown): value is Record<string, unknown> {
  return (
    isPlainObject(value) && 'payload' in value && Object.keys(value).every((key) => ENVELOPE_KEYS.has(key))
  );
}

function modelOf(value: unknown): string {
  if (value === undefined) {
    throw new BadRequestError(
      'model: name the model in the record ({"model": ..., "payload": ...}), in a "model" message attribute or in STREAM_MODEL',
    );
  }
  if (typeof value !== 'string')
    throw new BadRequestError(`model: expected a string, got ${typeName(value)}`);
  return modelName(value);
}

function stageOf(value: unknown): string {
  if (typeof value !== 'string')
    throw new BadRequestError(`stage: expected a string, got ${typeName(value)}`);
  const problem = stageNameProblem(value);
  if (problem !== undefined) throw new BadRequestError(`stage: ${problem}`);
  return value;
}

function versionOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number' || typeof value === 'string') return versionNumber(String(value));
  throw new BadRequestError(`version: expected a version number, got ${typeName(value)}`);
}

function formatNameOf(value: unknown): RecordFormatName {
  if (typeof value === 'string' && (RECORD_FORMATS as readonly string[]).includes(value)) {
    return value as RecordFormatName;
  }
  throw new BadRequestError(
    `format: expected one of ${RECORD_FORMATS.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

/** The payload format a body is in; a flat row (or rows) becomes MLflow `dataframe_records`. */
function formatOf(name: RecordFormatName, payload: unknown): [PayloadFormat, unknown] {
  const resolved = name === 'auto' ? detectFormat(payload) : name;
  switch (resolved) {
    case 'oip':
      return [OIP, payload];
    case 'mlflow':
      return [MLFLOW, payload];
    case 'tfserving':
      return [TF_SERVING, payload];
    case 'row':
      return [MLFLOW, { dataframe_records: Array.isArray(payload) ? payload : [payload] }];
  }
}

function detectFormat(payload: unknown): Exclude<RecordFormatName, 'auto'> {
  if (Array.isArray(payload)) return 'row';
  if (!isPlainObject(payload)) {
    throw new BadRequestError(
      `record: expected a JSON object (an OIP, MLflow or TF-Serving body, or a row), got ${typeName(payload)}`,
    );
  }
  if (Array.isArray(payload['inputs'])) return 'oip';
  if (
    'params' in payload ||
    MLFLOW_FORMATS.some((key) => key !== 'inputs' && key !== 'instances' && key in payload)
  ) {
    return 'mlflow';
  }
  if ('instances' in payload || 'inputs' in payload || 'signature_name' in payload) return 'tfserving';
  return 'row';
}
