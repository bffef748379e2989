/**
 * The client address behind `hops` trusted proxies that each append the peer they saw to
 * X-Forwarded-For: the entry `hops` from the right. Entries further left came from the client and
 * can be forged (which would let one client pose as many to a per-client rate limit, or drain
 * another's bucket). With 0 hops, or no header, the socket's peer is the client. A header with
 * fewer entries than hops was written by trusted proxies only: its first entry is the client.
 * Ports are stripped ("1.2.3.4:5678", "[2001:db8::1]:443" — Azure's front end adds them).
 */
export function clientAddress(
  forwardedFor: string | undefined,
  hops: number,
  socketAddress: string | undefined,
): string | undefined {
  if (hops <= 0 || forwardedFor === undefined) return socketAddress;
  const entries = forwardedFor.split(',');
  const entry = (entries[Math.max(0, entries.length - hops)] ?? '').trim();
  if (entry === '') return socketAddress;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(entry);
  if (bracketed) return bracketed[1];
  return /^[\d.]+:\d+$/.test(entry) ? entry.slice(0, entry.lastIndexOf(':')) : entry;
}
