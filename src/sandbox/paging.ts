import type { Bundle, BundleLink } from '@medplum/fhirtypes';
import { MAX_COUNT } from './constants.js';

/** Page window of a search: `_offset` and `_count` after defaults and clamping. */
export interface PageWindow {
  offset: number;
  count: number;
}

/**
 * Reads `_count`/`_offset` from the query, applying the default page size and the 1000 cap, and
 * writes the effective values back into `params` so the repository and the links agree.
 */
export function normalizePageParams(params: URLSearchParams, defaultCount: number): PageWindow {
  const summaryCount = params.get('_summary') === 'count'; // total only: no entries, no links
  const count = summaryCount ? 0 : clampInt(params.get('_count'), defaultCount, 0, MAX_COUNT);
  const offset = clampInt(params.get('_offset'), 0, 0, Number.MAX_SAFE_INTEGER);
  if (!summaryCount) params.set('_count', String(count));
  if (offset > 0) params.set('_offset', String(offset));
  else params.delete('_offset');
  return { offset, count };
}

function clampInt(raw: string | null, fallback: number, min: number, max: number): number {
  const n = raw === null || raw === '' ? Number.NaN : Number.parseInt(raw, 10);
  if (!Number.isFinite(n)) return fallback;
  return Math.min(Math.max(n, min), max);
}

/** Absolute URL of one page: `{baseUrl}/{path}?{params with _offset}`. */
export function pageUrl(baseUrl: string, path: string, params: URLSearchParams, offset: number): string {
  const copy = new URLSearchParams(params);
  if (offset > 0) copy.set('_offset', String(offset));
  else copy.delete('_offset');
  const query = copy.toString();
  return `${baseUrl}/${path}${query ? `?${query}` : ''}`;
}

/**
 * Adds `self`, `next` (when more results remain) and `previous` links to a searchset Bundle.
 * Needs `bundle.total`, which both the index path and MemoryRepository always set.
 */
export function addPagingLinks(
  bundle: Bundle,
  baseUrl: string,
  path: string,
  params: URLSearchParams,
  window: PageWindow,
): Bundle {
  const { offset, count } = window;
  const link: BundleLink[] = [{ relation: 'self', url: pageUrl(baseUrl, path, params, offset) }];
  const total = bundle.total ?? offset + (bundle.entry?.length ?? 0);
  if (count > 0 && offset + count < total) {
    link.push({ relation: 'next', url: pageUrl(baseUrl, path, params, offset + count) });
  }
  if (count > 0 && offset > 0) {
    link.push({ relation: 'previous', url: pageUrl(baseUrl, path, params, Math.max(0, offset - count)) });
  }
  return { ...bundle, link };
}

/** Gives every entry of a searchset an absolute `fullUrl` and `search.mode = match`. */
export function addFullUrls(bundle: Bundle, baseUrl: string): Bundle {
  if (!bundle.entry) return bundle;
  const entry = bundle.entry.map((e) =>
    e.resource?.id
      ? {
          fullUrl: `${baseUrl}/${e.resource.resourceType}/${e.resource.id}`,
          ...e,
          search: e.search ?? { mode: 'match' as const },
        }
      : e,
  );
  return { ...bundle, entry };
}
