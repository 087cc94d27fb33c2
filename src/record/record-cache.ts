/**
 * A previously assembled (complete, untruncated) record kept for incremental refresh, as its hash
 * lines only: `Type/id NUL canonical JSON` is the resource without server bookkeeping (`meta.versionId`,
 * `lastUpdated`, `source`) and narrative, which is all a record needs, so the resources are parsed back
 * from it on use instead of being held twice (objects take 3–4 times their JSON's memory).
 */
export interface CachedRecord {
  /** Hash lines by `Type/id`. */
  lines: ReadonlyMap<string, string>;
  /** Each line's resource version (`versionId|lastUpdated`), so a full re-read re-hashes only what changed. */
  versions: ReadonlyMap<string, string>;
  /** Instant the read started (EHR time when it told us, else ours), ISO. */
  readAt: string;
}

interface Entry {
  record: CachedRecord;
  /** When it was stored, ms since epoch (our clock). */
  storedAt: number;
  /** Approximate memory it holds (see sizeOf). */
  bytes: number;
}

/** A cache lookup: the record and whether it is still trusted for a `_since` refresh. */
export interface CacheHit {
  record: CachedRecord;
  /** False past the TTL: read in full, but the lines of unchanged versions can still be reused. */
  fresh: boolean;
}

/** Default bound on the cache's memory: 32 MiB (about 100 average Synthea records, a few of the largest). */
export const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Previous records of recently assessed patients, in this worker's memory only, for `_since`
 * refreshes. Why memory and not Redis: a record is PHI, and Redis (BullMQ's store) holds queue data
 * in clear text; a cache miss (restart, another replica) only costs one full read. Bounded by entries
 * and by bytes (least recently used evicted first), and trusted by age: `_since` cannot report hard
 * deletes, so past `ttlMs` a record is read in full again (its lines still save re-hashing).
 */
export class RecordCache {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;

  constructor(
    readonly maxPatients: number,
    readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    readonly maxBytes: number = DEFAULT_CACHE_BYTES,
  ) {}

  /** The record of `key` and whether it is fresh; undefined when not cached. */
  lookup(key: string): CacheHit | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit); // most recently used last
    return { record: hit.record, fresh: this.now() - hit.storedAt <= this.ttlMs };
  }

  /** The record of `key` while it is fresh (within the TTL). */
  get(key: string): CachedRecord | undefined {
    const hit = this.lookup(key);
    return hit?.fresh ? hit.record : undefined;
  }

  set(key: string, record: CachedRecord): void {
    this.delete(key);
    const bytes = sizeOf(record);
    if (this.maxPatients <= 0 || bytes > this.maxBytes) return;
    this.entries.set(key, { record, storedAt: this.now(), bytes });
    this.bytes += bytes;
    while (this.entries.size > this.maxPatients || this.bytes > this.maxBytes) {
      this.delete(this.entries.keys().next().value as string);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Approximate bytes held. */
  get heldBytes(): number {
    return this.bytes;
  }
}

/**
 * Approximate memory of a cached record: its strings at one byte per character (V8 stores ASCII and
 * Latin-1 strings so; others take two), keys twice (two maps), plus ~80 bytes of map entry per resource.
 */
function sizeOf(record: CachedRecord): number {
  let bytes = 0;
  for (const [key, line] of record.lines) bytes += line.length + 2 * key.length + 80;
  for (const version of record.versions.values()) bytes += version.length;
  return bytes;
}
