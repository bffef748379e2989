/**
 * The transport-neutral request and response every adapter translates to and from.
 * Header names are lower-case; the body is raw (adapters decode base64 but never parse).
 */
export interface ServeRequest {
  method: string;
  path: string;
  query: Readonly<Record<string, string>>;
  headers: Readonly<Record<string, string>>;
  body?: string | Uint8Array | undefined;
  /** Client address as seen by the platform, for per-client rate limits. */
  sourceIp?: string | undefined;
  /**
   * A caller the platform itself authenticated before invoking the function (AWS IAM SigV4: the
   * `authorizer.iam.userArn` of a payload v2 event). Set only by adapters, never from a header.
   */
  platformCaller?: string | undefined;
}

export interface ServeResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Uint8Array;
}

export function lowerCaseHeaders(
  headers: Readonly<Record<string, string | string[] | undefined>> | null | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export function jsonResponse(
  status: number,
  payload: unknown,
  headers: Record<string, string> = {},
): ServeResponse {
  // A literal plus a copy loop, not a spread: same keys in the same order, far cheaper per request.
  const out: Record<string, string> = { 'content-type': 'application/json' };
  for (const key of Object.keys(headers)) out[key] = headers[key] as string;
  return { status, headers: out, body: JSON.stringify(payload) };
}
