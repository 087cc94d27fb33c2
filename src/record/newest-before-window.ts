import type { Observation, Resource } from '@medplum/fhirtypes';
import { TIME_SERIES } from './record-bounds.js';

const LOINC = 'http://loinc.org';

/** The top-level LOINC codes of an Observation among `wanted`. */
export function wantedCodesOf(r: Resource, wanted: ReadonlySet<string>): string[] {
  if (r.resourceType !== 'Observation') return [];
  const codes = ((r as Observation).code?.coding ?? [])
    .filter((c) => c.system === LOINC && c.code && wanted.has(c.code))
    .map((c) => c.code as string);
  return [...new Set(codes)];
}

const dateOf = (r: Resource) => TIME_SERIES[r.resourceType]?.dateOf(r) ?? '';

/**
 * For Observations older than the lookback window: the newest one per wanted LOINC code. A model that
 * needs total cholesterol must see the one from 2014 to call it stale ("last measured 2014-03-02")
 * instead of missing; older ones than that add nothing and stay out of the record.
 */
export class NewestBeforeWindow {
  private readonly byCode = new Map<string, Resource>();
  private readonly wanted: ReadonlySet<string>;

  constructor(codes: readonly string[] | undefined) {
    this.wanted = new Set(codes ?? []);
  }

  /** Offers one resource dated before the window; kept when it is the newest so far of one of its codes. */
  offer(r: Resource): void {
    for (const code of wantedCodesOf(r, this.wanted)) {
      const current = this.byCode.get(code);
      const sameResource = current && current.id === r.id;
      if (!current || sameResource || dateOf(r) > dateOf(current)) this.byCode.set(code, r);
    }
  }

  /**
   * The kept resources for the codes that have no value inside the window (`inWindow`, the record's other
   * resources), each once.
   */
  needed(inWindow: Iterable<Resource>): Resource[] {
    if (this.byCode.size === 0) return [];
    const covered = new Set<string>();
    for (const r of inWindow) for (const code of wantedCodesOf(r, this.wanted)) covered.add(code);
    const out = new Map<string, Resource>();
    for (const [code, r] of this.byCode) if (!covered.has(code)) out.set(`${r.resourceType}/${r.id}`, r);
    return [...out.values()];
  }

  /** Every kept resource, keyed by type/id (for the incremental-refresh cache). */
  all(): Map<string, Resource> {
    return new Map([...this.byCode.values()].map((r) => [`${r.resourceType}/${r.id}`, r]));
  }
}
