import { rmSync } from 'node:fs';
import type { RunningEmulator } from './emulators';

export default async function globalTeardown(): Promise<void> {
  const running = (globalThis as { __modelfleetEmulators?: RunningEmulator[] }).__modelfleetEmulators ?? [];
  await Promise.all(running.map((emulator) => emulator.stop()));
  const runTemp = process.env['MODELFLEET_TEST_RUN_TEMP'];
  if (runTemp !== undefined) rmSync(runTemp, { recursive: true, force: true });
}
