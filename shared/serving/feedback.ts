import { BadRequestError } from '../errors';
import type { FeedbackRecord } from '../telemetry/capture';

export type FeedbackItem = Omit<FeedbackRecord, 'time' | 'model'>;

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const ANSWERS = ['label', 'value', 'outputs'] as const;

/**
 * Validates a feedback body: one `{id, label | value | outputs}` object or an array of them
 * (at most `maxItems`, each with at most `maxRows` rows). Errors name the item and field, the
 * expected shape and what was sent, like inference requests.
 */
export function parseFeedback(body: unknown, maxItems: number, maxRows: number): FeedbackItem[] {
  const items = Array.isArray(body) ? body : [body];
  const where = (i: number) => (Array.isArray(body) ? `feedback[${i}]` : 'feedback');
  if (items.length === 0)
    throw new BadRequestError('feedback: expected at least one {id, label | value | outputs}');
  if (items.length > maxItems) {
    throw new BadRequestError(`feedback: at most ${maxItems} items per request, got ${items.length}`);
  }
  return items.map((item, i) => parseItem(item, where(i), maxRows));
}

function parseItem(item: unknown, where: string, maxRows: number): FeedbackItem {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw new BadRequestError(
      `${where}: expected an object {id, label | value | outputs}, got ${describe(item)}`,
    );
  }
  const fields = item as Record<string, unknown>;
  const unknown = Object.keys(fields).filter(
    (key) => key !== 'id' && !(ANSWERS as readonly string[]).includes(key),
  );
  if (unknown.length > 0) {
    throw new BadRequestError(
      `${where}: unknown field "${unknown[0]}"; expected id and one of label, value, outputs`,
    );
  }
  const id = fields['id'];
  if (typeof id !== 'string' || !REQUEST_ID.test(id)) {
    throw new BadRequestError(
      `${where}.id: expected the request's x-request-id (1-128 letters, digits, "_", ".", ":" or "-"), got ${describe(id)}`,
    );
  }
  const given = ANSWERS.filter((key) => fields[key] !== undefined);
  if (given.length !== 1) {
    throw new BadRequestError(
      `${where}: expected exactly one of label, value or outputs, got ${given.length === 0 ? 'none' : given.join(' and ')}`,
    );
  }
  const answer = given[0] as (typeof ANSWERS)[number];
  const value = fields[answer];
  if (answer === 'label') return { id, label: labels(value, `${where}.label`, maxRows) };
  if (answer === 'value') return { id, value: numbers(value, `${where}.value`, maxRows) };
  return { id, outputs: outputs(value, `${where}.outputs`, maxRows) };
}

function labels(value: unknown, where: string, maxRows: number): FeedbackItem['label'] {
  const isLabel = (v: unknown) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
  if (isLabel(value)) return value as string | number;
  const list = rows(value, where, maxRows, 'a class label (string or number) or an array of them');
  const bad = list.findIndex((v) => !isLabel(v));
  if (bad !== -1)
    throw new BadRequestError(
      `${where}[${bad}]: expected a string or a finite number, got ${describe(list[bad])}`,
    );
  return list as (string | number)[];
}

function numbers(value: unknown, where: string, maxRows: number): FeedbackItem['value'] {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  const list = rows(value, where, maxRows, 'a finite number or an array of them');
  const bad = list.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (bad !== -1)
    throw new BadRequestError(`${where}[${bad}]: expected a finite number, got ${describe(list[bad])}`);
  return list as number[];
}

function outputs(value: unknown, where: string, maxRows: number): NonNullable<FeedbackItem['outputs']> {
  const list = rows(value, where, maxRows, 'an array of {name, data} tensors');
  return list.map((tensor, i) => {
    if (tensor === null || typeof tensor !== 'object' || Array.isArray(tensor)) {
      throw new BadRequestError(`${where}[${i}]: expected {name, data}, got ${describe(tensor)}`);
    }
    const { name, data } = tensor as Record<string, unknown>;
    if (typeof name !== 'string' || name === '') {
      throw new BadRequestError(`${where}[${i}].name: expected an output name, got ${describe(name)}`);
    }
    return { name, data: rows(data, `${where}[${i}].data`, maxRows, 'an array of values') };
  });
}

function rows(value: unknown, where: string, maxRows: number, expected: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequestError(`${where}: expected ${expected}, got ${describe(value)}`);
  }
  if (value.length > maxRows)
    throw new BadRequestError(`${where}: at most ${maxRows} rows, got ${value.length}`);
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`.slice(0, 80);
}
