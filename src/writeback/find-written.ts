import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { PlannedEntry } from './plan.js';
import { entryStatus } from './reply-entries.js';
import { createdNow } from './run-time.js';

/**
 * For each entry, the resource its conditional-create condition (our identifier, or for Provenance
 * our `_tag`) matches on the EHR, or undefined when none does. Used when a write's reply does not
 * say what was written (`Prefer: return=minimal` answered with an empty body, entries without
 * location or resource). One `batch` of searches when the EHR takes batches, else one search each.
 * Several matches (only an EHR whose conditional create is not atomic makes them) resolve to the
 * copy this run wrote, else the first.
 */
export async function findByConditions(client: FhirClient, entries: PlannedEntry[]): Promise<(Resource | undefined)[]> {
  if (!entries.length) return [];
  const batched = (await takesBatches(client)) ? await searchBatch(client, entries) : undefined;
  return Promise.all(
    entries.map(async (e, i) => pick(e, batched?.[i] ?? (await client.searchAll<Resource>(searchUrl(e))))),
  );
}

const searchUrl = (e: PlannedEntry) => `${e.resource.resourceType}?${e.ifNoneExist}`;

async function takesBatches(client: FhirClient): Promise<boolean> {
  const caps = await client.capabilities().catch(() => undefined);
  return !!caps?.known && caps.batch;
}

/** One batch of searches; an entry (or the whole batch) that fails is left undefined: searched alone. */
async function searchBatch(client: FhirClient, entries: PlannedEntry[]): Promise<(Resource[] | undefined)[]> {
  const batch: Bundle = {
    resourceType: 'Bundle',
    type: 'batch',
    entry: entries.map((e) => ({ request: { method: 'GET', url: searchUrl(e) } })),
  };
  const reply = await client.request<Bundle | undefined>('POST', '', batch).catch(() => undefined);
  if (reply?.resourceType !== 'Bundle' || reply.entry?.length !== entries.length) return entries.map(() => undefined);
  return reply.entry.map((e) => {
    const page = e.resource as Bundle | undefined;
    const status = entryStatus(e.response?.status) ?? 200;
    // A next link means more matches than one page: search alone, following pages.
    if (status >= 300 || page?.resourceType !== 'Bundle' || page.link?.some((l) => l.relation === 'next'))
      return undefined;
    return (page.entry ?? [])
      .filter((x) => x.resource && x.search?.mode !== 'outcome')
      .map((x) => x.resource as Resource);
  });
}

function pick(entry: PlannedEntry, found: Resource[]): Resource | undefined {
  const ofType = found.filter((r) => r.resourceType === entry.resource.resourceType && r.id);
  return ofType.find((r) => createdNow(entry.resource, r)) ?? ofType[0];
}
