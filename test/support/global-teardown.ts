import { rmSync } from 'node:fs';
import path from 'node:path';
import type { RunningEmulator } from './emulators';

export default async function globalTeardown(): Promise<void> {
  const running = (globalThis as { __modelfleetEmulators?: RunningEmulator[] }).__modelfleetEmulators ?? [];
  await Promise.all(running.map((emulator) => emulator.stop()));
  const runTemp = process.env['MODELFLEET_TEST_RUN_TEMP'];
  if (runTemp !== undefined) rmSync(runTemp, { recursive: true, force: true });
  // The server bundles of test/support/server-bundle.ts (under node_modules/ for module resolution).
  rmSync(path.join(__dirname, '..', '..', 'node_modules', '.cache', 'modelfleet-tests'), {
    recursive: true,
    force: true,
  });
}
