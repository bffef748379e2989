/** Self time by function while a call repeats, from V8's sampling profiler (node:inspector). */
import { Session } from 'node:inspector/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface ProfileRow {
  where: string;
  selfPercent: number;
}

export async function profileCalls(
  call: () => Promise<unknown>,
  count: number,
  top: number,
): Promise<ProfileRow[]> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 50 });
  await session.post('Profiler.start');
  for (let i = 0; i < count; i++) await call();
  const { profile } = (await session.post('Profiler.stop')) as unknown as {
    profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  };
  session.disconnect();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, index) => {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) return;
    const file = frame.url.replace(/^.*\/(dist|node_modules)\//, '').replace(/^node:/, '');
    const where = `${frame.functionName || '(anonymous)'} ${file}${file ? `:${frame.lineNumber + 1}` : ''}`;
    const delta = profile.timeDeltas[index] ?? 0;
    total += delta;
    self.set(where, (self.get(where) ?? 0) + delta);
  });
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([where, time]) => ({ where, selfPercent: (100 * time) / Math.max(1, total) }));
}
