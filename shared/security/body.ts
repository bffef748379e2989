import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../errors';
import type { ServeRequest } from '../http/request';
import { NumericData } from '../tensor/numeric-data';

export interface BodyLimits {
  maxBodyBytes: number;
  maxJsonDepth: number;
  maxBatchRows: number;
}

// curl -d sends application/x-www-form-urlencoded unless told otherwise; the body is still JSON.
const JSON_CONTENT_TYPES = /^(application\/(json|[\w.+-]+\+json|x-www-form-urlencoded)|text\/plain)$/;
/** Keys that mean something to JavaScript objects: no payload field needs them, so none may carry them (isCleanJson spells them out too). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a request body as JSON, refusing anything a hostile client could use to hurt the process
 * or later code: wrong media type (415), too many bytes (413), bytes that are not UTF-8, bad JSON,
 * nesting beyond `maxJsonDepth`, prototype keys, or more than `maxBatchRows` rows (400 each).
 */
export function parseJsonBody(
  request: ServeRequest,
  limits: BodyLimits,
  // A faster reader (OIP tensors straight into typed arrays) may decline with undefined; JSON.parse
  // then runs and reports any syntax error.
  fastParse: (text: string) => unknown = () => undefined,
): unknown {
  // The common header needs no parsing: it is JSON and names no charset (a hot-path shortcut).
  if (request.headers['content-type'] !== 'application/json') checkMediaType(request);
  const body = request.body;
  if (body === undefined || body.length === 0) {
    throw new BadRequestError('request body: expected a JSON object, got an empty body');
  }
  const size = bodyBytes(body, limits.maxBodyBytes);
  if (size > limits.maxBodyBytes) {
    throw new PayloadTooLargeError(
      `request body is ${size} bytes, more than the limit of ${limits.maxBodyBytes}`,
    );
  }
  let text: string;
  if (typeof body === 'string') {
    text = body;
  } else {
    try {
      text = utf8.decode(body);
    } catch {
      throw new BadRequestError('request body is not valid UTF-8');
    }
  }
  checkJsonDepth(text, limits.maxJsonDepth);
  let value: unknown;
  try {
    value = fastParse(text) ?? JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  vetJson(value, limits);
  return value;
}

/**
 * The body's size in bytes, or a lower bound when that already proves it within `limit`: a UTF-16
 * code unit is at most 3 bytes of UTF-8, so a string of up to limit / 3 units needs no counting
 * pass (Buffer.byteLength walks the whole string; most request bodies are far below the limit).
 */
export function bodyBytes(body: string | Uint8Array, limit: number): number {
  if (typeof body !== 'string') return body.byteLength;
  return body.length * 3 <= limit ? body.length : Buffer.byteLength(body);
}

/**
 * Refuses nesting beyond `maxDepth` from the text, before JSON.parse builds millions of nested
 * arrays (6 MB of `[` took ≈ 3 s to parse only to be refused afterwards). One linear pass that
 * skips strings: the cost of a flat body. It keeps, per open level, the array index or the last
 * key, so the error names the same path the walk after parsing would. Malformed text is left to
 * the parser to report.
 */
export function checkJsonDepth(text: string, maxDepth: number): void {
  // Nearly every body is within the limit. Nesting can never exceed the number of `[` and `{` in
  // the text (strings included), and indexOf counts those at memchr speed: most bodies stop
  // there. Otherwise a counting pass that skips strings decides, and only a body that is too deep
  // pays for the pass that tracks the path for the message.
  if (opensAtMost(text, maxDepth) || !deeperThan(text, maxDepth)) return;
  const isArray = new Uint8Array(maxDepth + 2);
  const index = new Int32Array(maxDepth + 2);
  const keyStart = new Int32Array(maxDepth + 2);
  const keyEnd = new Int32Array(maxDepth + 2);
  let depth = 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x5b || code === 0x7b) {
      depth++;
      if (depth > maxDepth) {
        throw new BadRequestError(
          `request body: ${textPath(text, depth, isArray, index, keyStart, keyEnd)} is nested more than ${maxDepth} levels deep`,
        );
      }
      isArray[depth] = code === 0x5b ? 1 : 0;
      index[depth] = 0;
      keyStart[depth] = -1;
    } else if (code === 0x5d || code === 0x7d) {
      if (depth > 0) depth--;
    } else if (code === 0x2c) {
      if (isArray[depth] === 1) index[depth] = (index[depth] as number) + 1;
    } else if (code === 0x22) {
      const end = endOfString(text, i);
      if (isArray[depth] === 0) {
        keyStart[depth] = i;
        keyEnd[depth] = end;
      }
      i = end;
    }
  }
}

/** Whether `text` holds at most `limit` opening brackets and braces in all (inside strings too). */
export function opensAtMost(text: string, limit: number): boolean {
  let count = 0;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count > limit) return false;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > limit) return false;
  return true;
}

const STRUCTURE = /[[\]{}"]/g;

/**
 * Whether brackets outside strings nest more than `maxDepth` levels anywhere in `text`. A regular
 * expression finds the next bracket or quote: it skips the numbers between them several times
 * faster than a charCodeAt loop.
 */
function deeperThan(text: string, maxDepth: number): boolean {
  let depth = 0;
  STRUCTURE.lastIndex = 0;
  for (let match = STRUCTURE.exec(text); match !== null; match = STRUCTURE.exec(text)) {
    const code = text.charCodeAt(match.index);
    if (code === 0x5b || code === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (code === 0x5d || code === 0x7d) {
      if (depth > 0) depth--;
    } else {
      STRUCTURE.lastIndex = endOfString(text, match.index) + 1;
    }
  }
  return false;
}

function textPath(
  text: string,
  depth: number,
  isArray: Uint8Array,
  index: Int32Array,
  keyStart: Int32Array,
  keyEnd: Int32Array,
): string {
  let path = '';
  for (let level = 1; level < depth; level++) {
    if (isArray[level] === 1) {
      path += `[${index[level]}]`;
      continue;
    }
    let key = '?';
    try {
      key = String(JSON.parse(text.slice(keyStart[level], (keyEnd[level] as number) + 1)));
    } catch {
      // An unterminated or odd key: the message still says where the nesting went too deep.
    }
    path += `.${key.length > 40 ? `${key.slice(0, 40)}…` : key}`;
  }
  return path === '' ? 'the top level' : path.replace(/^\./, '');
}

/** Index of the quote closing the string that opens at `start` (or the end of the text). */
function endOfString(text: string, start: number): number {
  let i = start;
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i === -1) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(i - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return i;
  }
}

function checkMediaType(request: ServeRequest): void {
  const [mediaType, ...params] = (request.headers['content-type'] ?? '').split(';');
  const contentType = mediaType?.trim().toLowerCase();
  if (contentType !== undefined && contentType !== '' && !JSON_CONTENT_TYPES.test(contentType)) {
    throw new UnsupportedMediaTypeError(
      `content-type ${contentType.slice(0, 100)} is not supported; send application/json`,
    );
  }
  const charset = params
    .map((p) => /^\s*charset\s*=\s*"?([^";\s]*)"?\s*$/i.exec(p)?.[1]?.toLowerCase())
    .find((c) => c !== undefined);
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new UnsupportedMediaTypeError(`charset ${charset.slice(0, 40)} is not supported; send UTF-8 JSON`);
  }
}

/** The checks every parsed JSON body gets, whichever reader parsed it (JSON, binary header). */
export function vetJson(value: unknown, limits: BodyLimits): void {
  // The quick walk only answers "clean"; anything else (a problem to name, or nesting too deep to
  // recurse safely) goes to the full walker, which finds the same problems and names their path.
  if (value === null || typeof value !== 'object' || !isCleanJson(value, 1, limits.maxJsonDepth)) {
    inspectJson(value, limits.maxJsonDepth);
  }
  checkRows(value, limits.maxBatchRows);
}

/** Deeper than this the quick walk gives up: recursion depth stays far from the stack's limit. */
const QUICK_WALK_DEPTH = 128;

/**
 * The checks of `inspectJson` without its bookkeeping (no frame per container, no paths): true when
 * `value` is within `maxDepth`, holds no prototype key and no non-finite number. Most bodies are
 * clean, and for a small one this is several times cheaper than the full walk.
 */
function isCleanJson(value: object, depth: number, maxDepth: number): boolean {
  if (depth > maxDepth || depth > QUICK_WALK_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === 'number') {
        if (!Number.isFinite(item)) return false;
      } else if (item !== null && typeof item === 'object' && !(item instanceof NumericData)) {
        if (!isCleanJson(item, depth + 1, maxDepth)) return false;
      }
    }
    return true;
  }
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return false;
    const item: unknown = (value as Record<string, unknown>)[key];
    if (typeof item === 'number') {
      if (!Number.isFinite(item)) return false;
    } else if (item !== null && typeof item === 'object' && !(item instanceof NumericData)) {
      if (!isCleanJson(item, depth + 1, maxDepth)) return false;
    }
  }
  return true;
}

interface Frame {
  value: object;
  depth: number;
  parent: Frame | undefined;
  key: string | number;
}

/**
 * Walks a parsed JSON value without recursion (so depth cannot overflow the stack here or in any
 * recursive consumer later) and rejects prototype keys. JSON.parse makes `__proto__` an own
 * property rather than changing a prototype, but any later spread or merge could, so they are
 * refused at the door rather than trusted to every consumer.
 */
export function inspectJson(root: unknown, maxDepth: number): void {
  if (root === null || typeof root !== 'object') return;
  const stack: Frame[] = [{ value: root, depth: 1, parent: undefined, key: '' }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    if (frame.depth > maxDepth) {
      throw new BadRequestError(`request body: ${pathOf(frame)} is nested more than ${maxDepth} levels deep`);
    }
    if (Array.isArray(frame.value)) {
      const array = frame.value;
      for (let i = 0; i < array.length; i++) {
        const item: unknown = array[i];
        if (typeof item === 'number' && !Number.isFinite(item)) throw notFinite(frame, i);
        if (item !== null && typeof item === 'object' && !(item instanceof NumericData))
          stack.push({ value: item, depth: frame.depth + 1, parent: frame, key: i });
      }
      continue;
    }
    for (const key of Object.keys(frame.value)) {
      if (FORBIDDEN_KEYS.has(key)) {
        throw new BadRequestError(`request body: key "${key}" in ${pathOf(frame)} is not allowed`);
      }
      const item: unknown = (frame.value as Record<string, unknown>)[key];
      if (typeof item === 'number' && !Number.isFinite(item)) throw notFinite(frame, key);
      // Typed tensor data from the fast reader holds finite numbers only (it declines otherwise).
      if (item !== null && typeof item === 'object' && !(item instanceof NumericData))
        stack.push({ value: item, depth: frame.depth + 1, parent: frame, key });
    }
  }
}

// JSON has no NaN or Infinity, but a literal such as 1e400 parses to Infinity: refuse it rather
// than feed a model a value no client could have meant. "NaN" strings are refused by the tensor
// decoder (a string is not a number).
function notFinite(frame: Frame, key: string | number): BadRequestError {
  return new BadRequestError(
    `request body: ${pathOf({ value: {}, depth: frame.depth + 1, parent: frame, key })} is a number too large for a double`,
  );
}

function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | undefined = frame; f?.parent !== undefined; f = f.parent) {
    parts.push(
      typeof f.key === 'number' ? `[${f.key}]` : `.${f.key.length > 40 ? `${f.key.slice(0, 40)}…` : f.key}`,
    );
  }
  const path = parts.reverse().join('');
  return path === '' ? 'the top level' : path.replace(/^\./, '');
}

/**
 * Rows per request, across the payload shapes modelfleet accepts: OIP tensors (`shape[0]`),
 * MLflow (`dataframe_split.data`, `dataframe_records`, `instances`, `inputs`) and TF-Serving
 * (`instances`, `inputs`). Keeps one request from holding a function instance for long.
 */
export function checkRows(body: unknown, maxRows: number): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const request = body as Record<string, unknown>;
  const tooMany = (where: string, rows: number): never => {
    throw new BadRequestError(
      `${where}: ${rows} rows, more than the limit of ${maxRows} per request; split the batch`,
    );
  };
  const split = request['dataframe_split'];
  if (split !== null && typeof split === 'object' && !Array.isArray(split)) {
    const data = (split as Record<string, unknown>)['data'];
    if (Array.isArray(data) && data.length > maxRows) tooMany('dataframe_split.data', data.length);
  }
  for (const field of ['dataframe_records', 'instances']) {
    const rows = request[field];
    if (Array.isArray(rows) && rows.length > maxRows) tooMany(field, rows.length);
  }
  const inputs = request['inputs'];
  if (Array.isArray(inputs)) {
    inputs.forEach((tensor: unknown, index) => {
      const shape =
        tensor !== null && typeof tensor === 'object'
          ? (tensor as Record<string, unknown>)['shape']
          : undefined;
      const rows = Array.isArray(shape) ? shape[0] : undefined;
      if (typeof rows === 'number' && rows > maxRows) tooMany(`inputs[${index}].shape[0]`, rows);
    });
    if (inputs.length > maxRows && !inputs.some((t) => t !== null && typeof t === 'object' && 'shape' in t)) {
      tooMany('inputs', inputs.length);
    }
  } else if (inputs !== null && typeof inputs === 'object') {
    for (const [name, column] of Object.entries(inputs)) {
      if (Array.isArray(column) && column.length > maxRows)
        tooMany(`inputs.${name.slice(0, 40)}`, column.length);
    }
  }
}
