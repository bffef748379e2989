import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ARTIFACT_FILE, MANIFEST_FILE } from '../repository/manifest';
import { describeError, type Logger } from '../telemetry/log';

export interface CachedVersion {
  /** Absent for a Triton-style version that has no manifest in the store. */
  manifest: Buffer | undefined;
  artifact: Buffer;
}

interface IndexEntry {
  bytes: number;
  usedAt: number;
}

/**
 * Why `dir` cannot be trusted with artifacts, or undefined when it is private to this user: a
 * real folder (not a link), owned by this user, not writable by group or others. Created 0700.
 */
export async function checkPrivateFolder(dir: string): Promise<string | undefined> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory()) return `${dir} is not a folder (a link or a file)`;
  const uid = process.getuid?.();
  if (uid !== undefined && stat.uid !== uid)
    return `${dir} is owned by uid ${stat.uid}, not this user (${uid})`;
  if ((stat.mode & 0o022) !== 0) {
    return `${dir} is writable by other users (mode ${(stat.mode & 0o777).toString(8)})`;
  }
  return undefined;
}

/**
 * Downloaded versions on local disk (`/tmp` on functions), so a new session after an LRU eviction
 * or an instance restart on a warm sandbox does not download again. Versions are immutable, so an
 * entry never goes stale; callers use an entry only when its artifact's sha256 equals the one in the
 * manifest read from the store (a planted copy agrees with its own manifest, not with the store's). The folder is
 * bounded in bytes: the least recently used versions are removed first. A disk failure is logged
 * and treated as a miss; it never fails a request.
 */
export class ArtifactDiskCache {
  private index: Map<string, IndexEntry> | undefined;
  private scanning: Promise<Map<string, IndexEntry>> | undefined;
  /** Whether the folder is ours alone; settled once, on first use. */
  private trusted: Promise<boolean> | undefined;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  /**
   * Creates the folder private (0700) or checks the one that is there. On a shared host another
   * user could pre-create it and plant versions; a folder that someone else owns or can write to
   * is refused: the cache stays off (every load downloads) and the reason is logged once.
   */
  private usable(): Promise<boolean> {
    if (!this.enabled) return Promise.resolve(false);
    this.trusted ??= checkPrivateFolder(this.dir).then(
      (problem) => {
        if (problem === undefined) return true;
        this.log.error('artifact disk cache refused; versions are downloaded instead', {
          folder: this.dir,
          problem,
          fix: 'remove the folder, or set ARTIFACT_CACHE_DIR to a folder only this user can write',
        });
        return false;
      },
      (err: unknown) => {
        this.log.warn('artifact disk cache unavailable', { folder: this.dir, ...describeError(err) });
        return false;
      },
    );
    return this.trusted;
  }

  async read(storeUrl: string, model: string, version: number): Promise<CachedVersion | undefined> {
    if (!(await this.usable())) return undefined;
    const folder = this.folderOf(storeUrl, model, version);
    try {
      const artifact = await fs.readFile(path.join(folder, ARTIFACT_FILE));
      const manifest = await fs.readFile(path.join(folder, MANIFEST_FILE)).catch((err: unknown) => {
        if ((err as { code?: string }).code === 'ENOENT') return undefined;
        throw err;
      });
      const index = await this.loadIndex();
      const relative = path.relative(this.dir, folder);
      index.set(relative, { bytes: artifact.byteLength + (manifest?.byteLength ?? 0), usedAt: Date.now() });
      const now = new Date();
      await fs.utimes(folder, now, now).catch(() => {});
      return { manifest, artifact };
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOENT') {
        this.log.warn('artifact disk cache read failed; downloading instead', {
          model,
          version,
          ...describeError(err),
        });
      }
      return undefined;
    }
  }

  async write(storeUrl: string, model: string, version: number, entry: CachedVersion): Promise<void> {
    const bytes = entry.artifact.byteLength + (entry.manifest?.byteLength ?? 0);
    if (bytes > this.maxBytes || !(await this.usable())) return;
    const folder = this.folderOf(storeUrl, model, version);
    // Written to a sibling folder and renamed into place, so a reader never sees half a version.
    const temp = `${folder}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fs.mkdir(temp, { recursive: true });
      await fs.writeFile(path.join(temp, ARTIFACT_FILE), entry.artifact);
      if (entry.manifest !== undefined) await fs.writeFile(path.join(temp, MANIFEST_FILE), entry.manifest);
      await fs.rm(folder, { recursive: true, force: true });
      await fs.rename(temp, folder);
      const index = await this.loadIndex();
      const relative = path.relative(this.dir, folder);
      index.set(relative, { bytes, usedAt: Date.now() });
      await this.evict(relative);
    } catch (err) {
      await fs.rm(temp, { recursive: true, force: true }).catch(() => {});
      this.log.warn('artifact disk cache write failed', { model, version, ...describeError(err) });
    }
  }

  /** Bytes currently held, as indexed. */
  async size(): Promise<number> {
    let total = 0;
    for (const entry of (await this.loadIndex()).values()) total += entry.bytes;
    return total;
  }

  private async evict(keep: string): Promise<void> {
    const index = await this.loadIndex();
    let total = 0;
    for (const entry of index.values()) total += entry.bytes;
    const oldestFirst = [...index.entries()].sort(([, a], [, b]) => a.usedAt - b.usedAt);
    for (const [relative, entry] of oldestFirst) {
      if (total <= this.maxBytes) break;
      if (relative === keep) continue;
      index.delete(relative);
      total -= entry.bytes;
      await fs.rm(path.join(this.dir, relative), { recursive: true, force: true });
    }
  }

  /** What an earlier process left behind counts towards the bound too. */
  private loadIndex(): Promise<Map<string, IndexEntry>> {
    if (this.index !== undefined) return Promise.resolve(this.index);
    this.scanning ??= this.scan().then((index) => {
      this.index = index;
      return index;
    });
    return this.scanning;
  }

  private async scan(): Promise<Map<string, IndexEntry>> {
    const index = new Map<string, IndexEntry>();
    const entries = await fs.readdir(this.dir, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isFile() || entry.name !== ARTIFACT_FILE) continue;
      const folder = entry.parentPath;
      if (folder.endsWith('.tmp')) continue;
      const stat = await fs.stat(folder).catch(() => undefined);
      let bytes = 0;
      for (const file of [ARTIFACT_FILE, MANIFEST_FILE]) {
        bytes += (await fs.stat(path.join(folder, file)).catch(() => undefined))?.size ?? 0;
      }
      index.set(path.relative(this.dir, folder), { bytes, usedAt: stat?.mtimeMs ?? 0 });
    }
    return index;
  }

  private folderOf(storeUrl: string, model: string, version: number): string {
    // One folder per repository: two stores may hold different models under the same name.
    const repository = createHash('sha256').update(storeUrl).digest('hex').slice(0, 16);
    return path.join(this.dir, repository, model, String(version));
  }
}
