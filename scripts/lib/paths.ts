import { existsSync } from 'node:fs';
import path from 'node:path';

/** The checkout's root, whether this runs from source (tests) or from dist/ (the CLI). */
export function projectRoot(from = __dirname): string {
  let dir = from;
  while (!existsSync(path.join(dir, 'samples')) || !existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the modelfleet checkout above ${from}`);
    dir = parent;
  }
  return dir;
}
