import type { Server, ServerResponse } from 'node:http';

export interface DrainOutcome {
  /** true when every request received before the signal was answered within the grace period. */
  drained: boolean;
  /** Requests still unanswered when the grace period ran out (their connections were cut). */
  abandoned: number;
}

/**
 * Tracks the server's requests so that `drain` can finish them: from the call on, no connection is
 * accepted, idle keep-alive sockets are closed, and every response still to be written says
 * `connection: close` so that clients stop reusing the socket and open a new connection elsewhere.
 * Requests already received keep running until they are answered or `graceMs` has passed.
 */
export function drainable(server: Server): { drain(graceMs: number): Promise<DrainOutcome> } {
  const unanswered = new Set<ServerResponse>();
  let draining = false;
  let settle: (() => void) | undefined;
  server.on('request', (_req, res: ServerResponse) => {
    unanswered.add(res);
    // A request that arrives on a kept-alive socket during the drain is still served, once.
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      unanswered.delete(res);
      if (draining) {
        // Sockets whose response just finished are idle now: close them rather than wait.
        server.closeIdleConnections();
        if (unanswered.size === 0) settle?.();
      }
    });
  });
  return {
    drain(graceMs) {
      draining = true;
      // Requests received before the signal: their responses close the connection too, or the
      // client would send its next request on a socket that is about to be closed under it.
      for (const res of unanswered) if (!res.headersSent) res.shouldKeepAlive = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const answered = new Promise<void>((resolve) => {
        settle = resolve;
        if (unanswered.size === 0) resolve();
      });
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        timer = setTimeout(() => resolve('expired'), graceMs);
      });
      return Promise.race([Promise.all([answered, closed]), expired]).then((result) => {
        clearTimeout(timer);
        if (result !== 'expired') return { drained: true, abandoned: 0 };
        const abandoned = unanswered.size;
        server.closeAllConnections();
        return { drained: abandoned === 0, abandoned };
      });
    },
  };
}
