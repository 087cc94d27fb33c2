import type { FhirRouter } from '@medplum/fhir-router';
import type { Bundle } from '@medplum/fhirtypes';
import { DEFAULT_SEARCH_COUNT } from './constants.js';
import { addFullUrls, addPagingLinks, normalizePageParams, type PageWindow } from './paging.js';

/** A GET type-search entry of a batch, with its effective paging window. */
interface BatchSearch {
  path: string;
  params: URLSearchParams;
  window: PageWindow;
}

/**
 * Why: the router runs batch entries itself, so their searchsets got neither the default/clamped
 * `_count` nor `next` links, and a client could not page past the first page of a batched search.
 * This rewrites each GET type-search entry URL with its effective `_count`/`_offset` (mutating the
 * request body) and returns the windows by entry index.
 */
export function prepareBatchSearches(router: FhirRouter, body: unknown): Map<number, BatchSearch> | undefined {
  const bundle = body as Bundle | undefined;
  if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'batch') return undefined;
  const searches = new Map<number, BatchSearch>();
  bundle.entry?.forEach((entry, i) => {
    const url = entry.request?.url?.replace(/^\/+/, '');
    if (entry.request?.method !== 'GET' || !url) return;
    if (router.find('GET', url)?.data?.interaction !== 'search-type') return;
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const params = new URLSearchParams(q >= 0 ? url.slice(q + 1) : '');
    const window = normalizePageParams(params, DEFAULT_SEARCH_COUNT);
    entry.request.url = `${path}?${params}`;
    searches.set(i, { path, params, window });
  });
  return searches.size ? searches : undefined;
}

/** Adds `fullUrl`s and `self`/`next`/`previous` links to the searchsets of a batch-response. */
export function addBatchPagingLinks(response: Bundle, searches: Map<number, BatchSearch>, baseUrl: string): Bundle {
  const entry = response.entry?.map((e, i) => {
    const search = searches.get(i);
    const result = e.resource as Bundle | undefined;
    if (!search || result?.resourceType !== 'Bundle' || result.type !== 'searchset') return e;
    const paged = addPagingLinks(addFullUrls(result, baseUrl), baseUrl, search.path, search.params, search.window);
    return { ...e, resource: paged };
  });
  return entry ? { ...response, entry } : response;
}
