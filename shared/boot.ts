/**
 * Runs module loads one per event-loop turn. `require` is synchronous: while a module graph loads,
 * no I/O callback runs, so a cold start that loads everything at once stalls reads it has already
 * started until the end. Yielding between the big loads lets each answer that arrived be handled
 * (and the next read sent) before the next load. The loads themselves must not depend on order.
 */
export async function loadInTurns(loads: readonly (() => unknown)[]): Promise<void> {
  for (const load of loads) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    load();
  }
}
