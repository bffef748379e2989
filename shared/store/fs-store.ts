import { createHash, randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors';
import {
  type GetOptions,
  type GetResult,
  type ModelStore,
  PreconditionFailedError,
  type PutOptions,
  type RangeResult,
} from './types';

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 10_000;

/**
 * A model repository in a local folder. ETags are content hashes, so a conditional read or write
 * means the same on every platform. Conditional writes take a per-key lock file (O_EXCL) and
 * replace the object with an atomic rename, so readers never see a half-written file.
 */
export class FsModelStore implements ModelStore {
  readonly url: string;

  constructor(readonly root: string) {
    this.root = path.resolve(root);
    this.url = `file://${this.root}`;
  }

  /**
   * Serving a folder that is not there would only answer 404s (a mistyped path, a relative path
   * resolved from another working directory): servers call this at start-up to stop instead.
   */
  requireFolder(variable = 'MODEL_REPOSITORY'): void {
    if (!existsSync(this.root)) {
      throw new ConfigError(
        variable,
        `the repository folder ${this.root} does not exist (relative paths are resolved from ${process.cwd()})`,
      );
    }
  }

  static fromUrl(location: string): FsModelStore {
    if (!location.startsWith('file://')) return new FsModelStore(location);
    // file://./models is not a valid URL but is the natural way to write a relative folder.
    const rest = location.slice('file://'.length);
    return new FsModelStore(rest.startsWith('/') ? fileURLToPath(location) : rest);
  }

  async get(key: string, options: GetOptions = {}): Promise<GetResult> {
    let body: Buffer;
    try {
      body = await fs.readFile(this.pathOf(key));
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'EISDIR')) return { status: 'not-found' };
      throw err;
    }
    const etag = etagOf(body);
    if (options.ifNoneMatch === etag) return { status: 'not-modified', etag };
    return { status: 'ok', body, etag };
  }

  async getRange(key: string, start: number, end: number): Promise<RangeResult | undefined> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(this.pathOf(key), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'EISDIR')) return undefined;
      throw err;
    }
    try {
      const { size } = await handle.stat();
      const length = Math.max(0, Math.min(end, size) - start);
      const body = Buffer.alloc(length);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await handle.read(body, read, length - read, start + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      return { body: read === length ? body : body.subarray(0, read), size };
    } finally {
      await handle.close();
    }
  }

  async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const target = this.pathOf(key);
    await fs.mkdir(path.dirname(target), { recursive: true });
    if (options.ifMatch === undefined && options.ifNoneMatch === undefined) {
      await this.replace(target, body);
      options.onProgress?.(body.byteLength, body.byteLength);
      return { etag: etagOf(body) };
    }
    const release = await this.lock(target);
    try {
      const current = await this.get(key);
      if (options.ifNoneMatch === '*' && current.status !== 'not-found') {
        throw new PreconditionFailedError(key, `${key} already exists`);
      }
      if (options.ifMatch !== undefined && (current.status !== 'ok' || current.etag !== options.ifMatch)) {
        throw new PreconditionFailedError(key);
      }
      await this.replace(target, body);
      return { etag: etagOf(body) };
    } finally {
      await release();
    }
  }

  async list(prefix: string): Promise<string[]> {
    try {
      const entries = await fs.readdir(this.pathOf(prefix));
      return entries
        .filter((name) => !name.startsWith('.') && !name.endsWith('.lock') && !name.endsWith('.tmp'))
        .sort();
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return [];
      throw err;
    }
  }

  private pathOf(key: string): string {
    const resolved = path.resolve(this.root, key);
    if (resolved !== this.root && !resolved.startsWith(this.root + path.sep)) {
      throw new Error(`key ${JSON.stringify(key)} escapes the repository root`);
    }
    return resolved;
  }

  private async replace(target: string, body: Uint8Array): Promise<void> {
    const temp = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.writeFile(temp, body);
      await fs.rename(temp, target);
    } catch (err) {
      await fs.rm(temp, { force: true });
      throw err;
    }
  }

  private async lock(target: string): Promise<() => Promise<void>> {
    const lockPath = `${target}.lock`;
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await fs.open(lockPath, 'wx');
        await handle.close();
        return () => fs.rm(lockPath, { force: true });
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
      }
      // A writer that crashed leaves its lock behind; after LOCK_STALE_MS it no longer counts.
      const stat = await fs.stat(lockPath).catch(() => undefined);
      if (stat && Date.now() - stat.mtimeMs > LOCK_STALE_MS) {
        await fs.rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock on ${lockPath}`);
      await sleep(Math.min(50, 2 + attempt * 2) * (0.5 + Math.random()));
    }
  }
}

export function etagOf(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
