import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import { FhirHttpError, localOutcome } from '../fhir/fhir-errors.js';
import type { RecordCollector } from './record-collector.js';
import { UnusableAnswerError } from './strategy-refusal.js';
import { type SearchPlan, type TypeSearch, typeSearches } from './type-searches.js';

/** How a record is read, cheapest first. */
export type Strategy = 'everything' | 'batch' | 'search';

export interface StrategyRun {
  client: FhirClient;
  plan: SearchPlan;
  collector: RecordCollector;
}

export const STRATEGIES: Record<Strategy, (run: StrategyRun) => Promise<void>> = {
  everything: readEverything,
  batch: readBatch,
  search: readSearches,
};

/** `Patient/{id}/$everything?_type=...&_count=...[&_since=...]`, every page. */
async function readEverything({ client, plan, collector }: StrategyRun): Promise<void> {
  const query: Record<string, string> = { _type: plan.bounds.types.join(','), _count: String(plan.pageSize) };
  if (plan.since) query._since = plan.since;
  for await (const page of client.pages(`Patient/${encodeURIComponent(plan.patientId)}/$everything`, query)) {
    for (const e of page.entry ?? []) if (e.search?.mode !== 'outcome') collector.add(e.resource);
    if (collector.full) return;
  }
}

/**
 * One `batch` Bundle: a Patient read plus one search per type; each search's `next` links are then
 * followed (concurrently, within the client's per-EHR limit). An entry the EHR answered with an
 * error or an OperationOutcome instead of a Bundle, or without the `next` link its `total` calls for,
 * is read again on its own (so the client's retries apply to it); a 404/410 for the Patient is final.
 */
async function readBatch(run: StrategyRun): Promise<void> {
  const { client, plan } = run;
  const searches = typeSearches(plan);
  const request: Bundle = {
    resourceType: 'Bundle',
    type: 'batch',
    entry: [`Patient/${encodeURIComponent(plan.patientId)}`, ...searches.map((s) => s.url)].map((url) => ({
      request: { method: 'GET', url },
    })),
  };
  const response = await client.transaction(request);
  if (response?.resourceType !== 'Bundle' || response.entry?.length !== request.entry?.length) {
    throw new UnusableAnswerError('the EHR did not answer the batch with one batch-response entry per request');
  }
  const entries = response.entry ?? [];
  run.collector.add(await batchPatient(run, entries[0]));
  await Promise.all(
    searches.map(async (search, i) => {
      const first = okResource(entries[i + 1]);
      const done = first?.resourceType === 'Bundle' && (await followSearch(run, first, search));
      if (!done) await followSearch(run, await client.get<Bundle>(search.url), search, true);
    }),
  );
}

/** The Patient read and one search per type, all concurrent (the client's limit applies). */
async function readSearches(run: StrategyRun): Promise<void> {
  const { client, plan, collector } = run;
  await Promise.all([
    client.read('Patient', plan.patientId).then((p) => collector.add(p)),
    ...typeSearches(plan).map(async (s) => followSearch(run, await client.get<Bundle>(s.url), s, true)),
  ]);
}

/**
 * Adds every page of a search; returns false when the EHR's `total` says matches are missing and no
 * `next` link leads to them. With `final`, that is recorded on the collector instead.
 */
async function followSearch(run: StrategyRun, first: Bundle, search: TypeSearch, final = false): Promise<boolean> {
  let matches = 0;
  let last: Bundle = first;
  for await (const page of run.client.follow(first)) {
    last = page;
    for (const e of page.entry ?? []) {
      if (e.search?.mode === 'outcome' || e.search?.mode === 'include') continue;
      matches++;
      run.collector.add(e.resource);
    }
    if (run.collector.full) return true;
  }
  const complete = first.total === undefined || matches >= first.total || last.link?.some((l) => l.relation === 'next');
  if (!complete && final) {
    run.collector.incomplete = `${search.type}: the EHR reported ${first.total} matches but returned ${matches} with no next link`;
  }
  return complete || final;
}

/** The resource of a 2xx batch-response entry; undefined for an entry that failed. */
function okResource(entry: BundleEntry): Resource | undefined {
  const status = Number.parseInt(entry.response?.status ?? '', 10);
  return status >= 200 && status < 300 ? entry.resource : undefined;
}

/** The Patient from its batch entry; 404/410 there throws (the patient is not on the EHR), else it is read again. */
async function batchPatient({ client, plan }: StrategyRun, entry: BundleEntry): Promise<Resource | undefined> {
  const resource = okResource(entry);
  if (resource?.resourceType === 'Patient') return resource;
  const status = Number.parseInt(entry.response?.status ?? '', 10);
  if (status === 404 || status === 410) {
    const carried = entry.response?.outcome ?? entry.resource;
    const outcome =
      carried?.resourceType === 'OperationOutcome'
        ? carried
        : localOutcome('not-found', `batch entry for Patient/${plan.patientId} answered ${entry.response?.status}`);
    throw new FhirHttpError(status, outcome, `Patient/${plan.patientId}`);
  }
  return client.read('Patient', plan.patientId);
}
