/**
 * The client address behind a platform front end, from X-Forwarded-For. Only the last entry is
 * trusted: it is the one the platform's front end appended; anything before it came from the
 * client and can be forged (which would let one client pose as many to a per-client rate limit).
 * Ports are stripped ("1.2.3.4:5678", "[2001:db8::1]:443" — Azure's front end adds them).
 */
export function clientAddressFromForwardedFor(header: string | undefined): string | undefined {
  const last = header?.split(',').at(-1)?.trim();
  if (last === undefined || last === '') return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(last);
  if (bracketed) return bracketed[1];
  return /^[\d.]+:\d+$/.test(last) ? last.slice(0, last.lastIndexOf(':')) : last;
}
