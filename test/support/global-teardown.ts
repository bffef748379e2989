import type { RunningEmulator } from './emulators';

export default async function globalTeardown(): Promise<void> {
  const running = (globalThis as { __modelfleetEmulators?: RunningEmulator[] }).__modelfleetEmulators ?? [];
  await Promise.all(running.map((emulator) => emulator.stop()));
}
