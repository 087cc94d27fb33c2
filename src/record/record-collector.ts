import type { Resource } from '@medplum/fhirtypes';
import { beforeWindow, type RecordBounds, TIME_SERIES } from './record-bounds.js';
import { isOwnOutput } from './record-hash.js';

/**
 * Gathers the resources of one record while pages arrive: keeps only the wanted types, leaves out AI
 * write-backs and time-series entries older than the lookback window, de-duplicates by type/id (the
 * newest version wins) and tells the reader when it has enough to stop fetching.
 */
export class RecordCollector {
  private readonly byKey = new Map<string, Resource>();
  private readonly types: Set<string>;
  /** Why a strategy could not read everything (e.g. a search with no next link), if it could not. */
  incomplete?: string;

  constructor(
    readonly patientId: string,
    readonly bounds: RecordBounds,
    private readonly windowStart: string | undefined,
  ) {
    this.types = new Set(bounds.types);
  }

  get size(): number {
    return this.byKey.size;
  }

  /** One more than the bound: enough to know the record is truncated, so reading can stop. */
  get full(): boolean {
    return this.byKey.size > this.bounds.maxResources;
  }

  add(r: Resource | undefined): void {
    if (!r?.id || !this.types.has(r.resourceType) || isOwnOutput(r) || beforeWindow(r, this.windowStart)) return;
    const key = `${r.resourceType}/${r.id}`;
    const existing = this.byKey.get(key);
    if (!existing || isNewer(r, existing)) this.byKey.set(key, r);
  }

  addAll(resources: Iterable<Resource>): void {
    for (const r of resources) this.add(r);
  }

  get patient(): Resource | undefined {
    return this.byKey.get(`Patient/${this.patientId}`);
  }

  /** Every kept resource keyed by type/id (for the incremental-refresh cache). */
  entries(): ReadonlyMap<string, Resource> {
    return this.byKey;
  }

  /**
   * The Patient first, then the rest; when over the bound, the non-time-series facts are kept first,
   * then the newest time-series entries.
   */
  resources(): { resources: Resource[]; dropped: number } {
    const patient = this.patient;
    const rest = [...this.byKey.values()].filter((r) => r !== patient);
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
