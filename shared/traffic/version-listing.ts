import type { ModelRepository } from '../repository/repository';

/**
 * The published versions of each model, for model metadata (`versions` in OIP). Listing the
 * store on every metadata call would cost a round trip per call and fail the call in a store
 * outage, so a listing is trusted for the deployment TTL; when the store fails the last listing
 * answers, and with none the caller leaves the field out (OIP makes it optional).
 */
export class VersionListing {
  private readonly entries = new Map<string, { versions: number[]; readAt: number }>();

  constructor(
    private readonly repository: ModelRepository,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Called only for a model that resolved, so the map holds real models, not request noise. */
  async versions(model: string): Promise<number[] | undefined> {
    const entry = this.entries.get(model);
    if (entry !== undefined && this.now() - entry.readAt < this.ttlMs) return entry.versions;
    try {
      const versions = await this.repository.listVersions(model);
      this.entries.set(model, { versions, readAt: this.now() });
      return versions;
    } catch {
      return entry?.versions;
    }
  }
}
