import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { removeTempDirs, tempDir } from '../support/fixtures';

// CommonJS module shared with the serverless plugin (it runs without a build step).
const { checkPackages, zipSizes, PackageTooLargeError } = require('../../scripts/check-package.cjs') as {
  checkPackages: (
    files: string[],
    limits?: { zipBytes?: number; unpackedBytes?: number },
  ) => {
    file: string;
    zipBytes: number;
    unpackedBytes: number;
  }[];
  zipSizes: (file: string) => { zipBytes: number; unpackedBytes: number; entries: number };
  PackageTooLargeError: new (message: string) => Error;
};

afterAll(removeTempDirs);

/** A real zip made by Info-ZIP: 3 files, 3 MB of zeros (compresses to a few KB). */
function makeZip(): string {
  const dir = tempDir('modelfleet-zip-');
  mkdirSync(path.join(dir, 'content', 'nested'), { recursive: true });
  writeFileSync(path.join(dir, 'content', 'a.bin'), Buffer.alloc(1024 * 1024));
  writeFileSync(path.join(dir, 'content', 'nested', 'b.bin'), Buffer.alloc(2 * 1024 * 1024));
  writeFileSync(path.join(dir, 'content', 'c.txt'), 'hello');
  const zip = path.join(dir, 'fn.zip');
  execFileSync('zip', ['-qr', zip, 'content'], { cwd: dir });
  return zip;
}

describe('package-size guardrail', () => {
  it('reads the unpacked size from the central directory', () => {
    const zip = makeZip();
    const sizes = zipSizes(zip);
    expect(sizes.unpackedBytes).toBe(3 * 1024 * 1024 + 5);
    expect(sizes.zipBytes).toBeLessThan(100 * 1024);
    expect(sizes.entries).toBe(5); // 3 files + 2 folders
  });

  it('accepts a package within both limits', () => {
    const zip = makeZip();
    expect(checkPackages([zip])[0]?.unpackedBytes).toBe(3 * 1024 * 1024 + 5);
  });

  it('fails with the file, its size and the limit when unpacked size is over', () => {
    const zip = makeZip();
    const run = () => checkPackages([zip], { unpackedBytes: 2 * 1024 * 1024 });
    expect(run).toThrow(PackageTooLargeError);
    expect(run).toThrow(/fn\.zip unpacks to 3\.0 MB; the limit is 2\.0 MB/);
  });

  it('fails when the zip itself is over', () => {
    const zip = makeZip();
    expect(() => checkPackages([zip], { zipBytes: 1000 })).toThrow(
      /fn\.zip is 0\.0 MB zipped; the limit is 0\.0 MB/,
    );
  });

  it('refuses a file that is not a zip', () => {
    const file = path.join(tempDir(), 'not.zip');
    writeFileSync(file, 'plain text, long enough to search for an end of central directory record');
    expect(() => zipSizes(file)).toThrow(/not a zip file/);
  });
});
