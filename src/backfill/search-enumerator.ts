import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import { patientIdOf } from '../intake/resource-facts.js';
import type { Cursor, Enumerated, Enumerator } from './cursor.js';

/** Page size asked of the EHR while paging (it may return fewer). */
const PAGE_SIZE = 200;

/**
 * Enumerates by paging searches, following `next` links verbatim (the client keeps them under the
 * base): `Patient?...` for everyone; with `since`, `Patient?_lastUpdated=ge{since}` and then each
 * type the models read, so a patient whose labs changed is found even when their Patient did not.
 */
export class SearchEnumerator implements Enumerator {
  readonly strategy = 'search' as const;
  readonly label: string;
  total?: number;
  private readonly phases: { type: string; query: Record<string, string> }[];

  constructor(
    private readonly client: FhirClient,
    opts: { since?: string; types: string[]; pageSize?: number },
  ) {
    const since: Record<string, string> = opts.since ? { _lastUpdated: `ge${opts.since}` } : {};
    const types = opts.since ? ['Patient', ...opts.types.filter((t) => t !== 'Patient')] : ['Patient'];
    this.phases = types.map((type) => ({ type, query: { ...since, _count: String(opts.pageSize ?? PAGE_SIZE) } }));
    this.label = opts.since
      ? `by paging ${types.join(', ')} searches (_lastUpdated ge ${opts.since})`
      : 'by paging Patient search';
  }

  async *iterate(from?: Cursor, signal?: AbortSignal): AsyncGenerator<Enumerated> {
    const start = from?.kind === 'search' ? from : { kind: 'search' as const, phase: 0, url: null, index: 0 };
    for (let phase = start.phase; phase < this.phases.length; phase++) {
      const resume = phase === start.phase ? start : undefined;
      let url = resume?.url ?? null;
      let skip = resume?.index ?? 0;
      for (;;) {
        if (signal?.aborted) return;
        const { type, query } = this.phases[phase];
        const page = await (url ? this.client.get<Bundle>(url) : this.client.get<Bundle>(type, query));
        const pageUrl = url ?? page.link?.find((l) => l.relation === 'self')?.url ?? null;
        if (phase === 0 && !this.phases[0].query._lastUpdated && page.total !== undefined) this.total ??= page.total;
        const entries = (page.entry ?? []).filter((e) => e.resource && e.search?.mode !== 'outcome');
        for (let i = skip; i < entries.length; i++) {
          const r = entries[i].resource as Resource;
          yield { patientId: patientIdOf(r), cursor: { kind: 'search', phase, url: pageUrl, index: i + 1 } };
        }
        const next = page.link?.find((l) => l.relation === 'next')?.url;
        if (!next) break;
        url = next;
        skip = 0;
        yield { cursor: { kind: 'search', phase, url, index: 0 } }; // the page boundary is a resume point too
      }
      if (phase + 1 < this.phases.length) yield { cursor: { kind: 'search', phase: phase + 1, url: null, index: 0 } };
    }
  }
}
