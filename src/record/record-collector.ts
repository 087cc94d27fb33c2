import type { Resource } from '@medplum/fhirtypes';
import { NewestBeforeWindow } from './newest-before-window.js';
import { beforeWindow, type RecordBounds, TIME_SERIES } from './record-bounds.js';
import type { CachedRecord } from './record-cache.js';
import { canonicalLine, hashLines, isOwnOutput, resourceOfLine, versionOf } from './record-hash.js';

/** Resources read beyond the bound before reading stops, at least: 1,000. */
const READ_AHEAD = 1000;

/**
 * Gathers the resources of one record while pages arrive: keeps only the wanted types, leaves out AI
 * write-backs and time-series entries older than the lookback window (except the newest Observation of
 * each code the models need whatever its date, when the window holds none), de-duplicates by type/id
 * (the newest version wins) and tells the reader when it has enough to stop fetching.
 */
export class RecordCollector {
  private readonly byKey = new Map<string, Resource>();
  /** Hash lines computed as pages arrive, so hashing overlaps with waiting for the next page. */
  private readonly lines = new Map<string, string>();
  /** The version each line was computed from (`versionId|lastUpdated`; none when the EHR gave none). */
  private readonly versions = new Map<string, string>();
  private readonly types: Set<string>;
  /** The newest Observation per needed code among those older than the window. */
  private readonly older: NewestBeforeWindow;
  /** Why a strategy could not read everything (e.g. a search with no next link), if it could not. */
  incomplete?: string;

  constructor(
    readonly patientId: string,
    readonly bounds: RecordBounds,
    private readonly windowStart: string | undefined,
    /** A previous read of this record (even a stale one): lines of unchanged versions are reused, not recomputed. */
    private readonly known?: CachedRecord,
  ) {
    this.types = new Set(bounds.types);
    this.older = new NewestBeforeWindow(bounds.latestCodes);
  }

  get size(): number {
    return this.byKey.size;
  }

  /**
   * Enough read to stop: twice the bound (at least 1,000 over it), so that when the EHR returns
   * observations first, the conditions and medications after them still get a chance to be kept.
   */
  get full(): boolean {
    const max = this.bounds.maxResources;
    return this.byKey.size > Math.max(2 * max, max + READ_AHEAD);
  }

  add(r: Resource | undefined): void {
    if (!r?.id || !this.types.has(r.resourceType) || isOwnOutput(r)) return;
    if (beforeWindow(r, this.windowStart)) {
      this.older.offer(r);
      return;
    }
    const key = `${r.resourceType}/${r.id}`;
    const existing = this.byKey.get(key);
    if (existing && !isNewer(r, existing)) return;
    this.byKey.set(key, r);
    const version = versionOf(r);
    const line = version && this.known?.versions.get(key) === version ? this.known.lines.get(key) : undefined;
    this.lines.set(key, line ?? canonicalLine(r));
    if (version) this.versions.set(key, version);
    else this.versions.delete(key);
  }

  /** The record hash of `resources` (all collected here), reusing the lines computed on arrival. */
  hashOf(resources: Resource[]): string {
    return hashLines(resources.map((r) => this.lines.get(`${r.resourceType}/${r.id}`) ?? canonicalLine(r)));
  }

  addAll(resources: Iterable<Resource>): void {
    for (const r of resources) this.add(r);
  }

  /**
   * Starts from a cached record: its resources parsed back from their hash lines, which are reused (a
   * `_since` refresh re-hashes only what changed). Parsed back, they carry no `meta.versionId` or
   * `lastUpdated`, so whatever the refresh returns for them wins.
   */
  seed(previous: CachedRecord): void {
    for (const [key, line] of previous.lines) {
      const r = resourceOfLine(line);
      if (!this.types.has(r.resourceType)) continue;
      if (beforeWindow(r, this.windowStart)) {
        this.older.offer(r); // a `_since` refresh would not read it again
        continue;
      }
      this.byKey.set(key, r);
      this.lines.set(key, line);
      const version = previous.versions.get(key);
      if (version) this.versions.set(key, version);
    }
  }

  /**
   * What the record cache keeps of this record: its hash lines and their versions, with the newest
   * older-than-window Observations, which a `_since` refresh would not read again (a stale input must
   * not turn into a missing one on the next refresh).
   */
  toCached(readAt: string): CachedRecord {
    const older = [...this.older.all()].filter(([key]) => !this.lines.has(key));
    if (!older.length) return { lines: this.lines, versions: this.versions, readAt };
    const lines = new Map(this.lines);
    for (const [key, r] of older) lines.set(key, canonicalLine(r));
    return { lines, versions: this.versions, readAt };
  }

  get patient(): Resource | undefined {
    return this.byKey.get(`Patient/${this.patientId}`);
  }

  /** Every kept resource keyed by type/id, with the newest older-than-window Observations. */
  entries(): ReadonlyMap<string, Resource> {
    return new Map([...this.older.all(), ...this.byKey]);
  }

  /**
   * The Patient first, then the rest; when over the bound, the non-time-series facts are kept first,
   * then the newest time-series entries.
   */
  resources(): { resources: Resource[]; dropped: number } {
    const patient = this.patient;
    const inWindow = [...this.byKey.values()];
    const older = this.older.needed(inWindow).filter((r) => !this.byKey.has(`${r.resourceType}/${r.id}`));
    const rest = [...inWindow, ...older].filter((r) => r !== patient);
    const room = this.bounds.maxResources - (patient ? 1 : 0);
    if (rest.length <= room) return { resources: patient ? [patient, ...rest] : rest, dropped: 0 };
    const keyed = rest.map((r) => ({ r, series: r.resourceType in TIME_SERIES, date: dateOf(r) }));
    keyed.sort((a, b) => Number(a.series) - Number(b.series) || b.date.localeCompare(a.date));
    const kept = keyed.slice(0, room).map((k) => k.r);
    return { resources: patient ? [patient, ...kept] : kept, dropped: rest.length - kept.length };
  }
}

/** Newer by meta.lastUpdated; on a tie (or none), by numeric versionId when both are numbers. */
function isNewer(candidate: Resource, existing: Resource): boolean {
  const a = Date.parse(candidate.meta?.lastUpdated ?? '');
  const b = Date.parse(existing.meta?.lastUpdated ?? '');
  if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) return Number.isNaN(b) || a > b;
  const va = Number(candidate.meta?.versionId);
  const vb = Number(existing.meta?.versionId);
  return Number.isFinite(va) && Number.isFinite(vb) ? va >= vb : true;
}

function dateOf(r: Resource): string {
  return TIME_SERIES[r.resourceType]?.dateOf(r) ?? '';
}
