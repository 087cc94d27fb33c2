import type { Resource } from '@medplum/fhirtypes';

/** A previously assembled (complete, untruncated) record kept for incremental refresh. */
export interface CachedRecord {
  /** Resources by `Type/id`. */
  resources: ReadonlyMap<string, Resource>;
  /** Their record-hash lines by `Type/id`, so unchanged resources are not hashed again. */
  lines: ReadonlyMap<string, string>;
  /** Instant the read started (EHR time when it told us, else ours), ISO. */
  readAt: string;
  /** When it was stored, ms since epoch (our clock). */
  storedAt: number;
}

/**
 * Previous records of recently assessed patients, in this worker's memory only, for `_since`
 * refreshes. Why memory and not Redis: a record is PHI, and Redis (BullMQ's store) holds queue data
 * in clear text; a cache miss (restart, another replica) only costs one full read. Bounded by
 * entries (least recently used evicted) and by age: `_since` cannot report hard deletes, so a cached
 * record is trusted for `ttlMs` at most and then read in full again.
 */
export class RecordCache {
  private readonly entries = new Map<string, CachedRecord>();

  constructor(
    readonly maxPatients: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): CachedRecord | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    if (this.now() - hit.storedAt > this.ttlMs) return undefined;
    this.entries.set(key, hit); // most recently used last
    return hit;
  }

  set(key: string, record: Omit<CachedRecord, 'storedAt'>): void {
    if (this.maxPatients <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { ...record, storedAt: this.now() });
    while (this.entries.size > this.maxPatients) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
