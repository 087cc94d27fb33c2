import { randomUUID } from 'node:crypto';
import type { Bundle, BundleLink } from '@medplum/fhirtypes';
import { errorOutcome, type SandboxContext } from '../context.js';
import type { SandboxApp } from '../http-server.js';

/** Searches remembered for `_getpages` (oldest forgotten first: HAPI's search cache also expires). */
const MAX_SEARCHES = 10_000;

interface StoredSearch {
  /** Path below the base, e.g. `Observation` or `Patient/1/$everything`. */
  path: string;
  /** Query without `_offset`/`_count`. */
  params: string;
}

/**
 * HAPI FHIR's paging links: `next`/`previous` (and `self` past the first page) point at the
 * **base**, `{base}?_getpages={searchId}&_getpagesoffset=N&_count=N&_bundletype=searchset`, not at
 * the type path. A client must follow them verbatim (library-notes trap B: MedplumClient's pager
 * re-targets `{base}/{Type}?...` and loops on page 1). Applies to type searches, batch-entry
 * searches and `$everything`. An unknown or forgotten search id gets 410 Gone, as HAPI's does.
 */
export function getpagesPaging(app: SandboxApp, ctx: SandboxContext): void {
  const searches = new Map<string, StoredSearch>();
  const idsByKey = new Map<string, string>();

  const register = (search: StoredSearch): string => {
    const key = `${search.path}?${search.params}`;
    let id = idsByKey.get(key);
    if (!id) {
      id = randomUUID();
      idsByKey.set(key, id);
      searches.set(id, search);
      if (searches.size > MAX_SEARCHES) {
        const [oldId, old] = searches.entries().next().value as [string, StoredSearch];
        searches.delete(oldId);
        idsByKey.delete(`${old.path}?${old.params}`);
      }
    }
    return id;
  };

  ctx.rewriteUrl = (relative) => {
    const q = relative.indexOf('?');
    if (q < 0) return relative;
    const query = new URLSearchParams(relative.slice(q + 1));
    const id = query.get('_getpages');
    if (id === null) return relative;
    if (relative.slice(0, q) !== '') return withoutPagingParams(relative.slice(0, q), query);
    const search = searches.get(id);
    if (!search) {
      return {
        status: 410,
        outcome: errorOutcome('processing', `Search ID "${id}" does not exist and may have expired`),
      };
    }
    const params = new URLSearchParams(search.params);
    const offset = query.get('_getpagesoffset');
    const count = query.get('_count');
    if (offset) params.set('_offset', offset);
    if (count) params.set('_count', count);
    return `${search.path}?${params}`;
  };

  const rewriteLinks = (bundle: Bundle): void => {
    if (bundle.type !== 'searchset' || !bundle.link) return;
    bundle.link = bundle.link.map((link) => rewriteLink(link, ctx.baseUrl, register));
  };

  app.addHook('onSend', async (req, _reply, payload) => {
    if (req.method !== 'GET' && req.method !== 'POST') return payload;
    if (typeof payload !== 'string' || !payload.includes('"link"')) return payload;
    const body = JSON.parse(payload) as Bundle;
    if (body.resourceType !== 'Bundle') return payload;
    rewriteLinks(body);
    if (body.type === 'batch-response') {
      for (const entry of body.entry ?? []) {
        if (entry.resource?.resourceType === 'Bundle') rewriteLinks(entry.resource);
      }
    }
    return JSON.stringify(body);
  });
}

/**
 * Paging parameters on a type path are ignored (HAPI pages only at the base), so a client that
 * re-targets a `_getpages` link at `{base}/{Type}` gets page 1 again: library-notes trap B.
 */
function withoutPagingParams(path: string, query: URLSearchParams): string {
  for (const name of ['_getpages', '_getpagesoffset', '_bundletype']) query.delete(name);
  const rest = query.toString();
  return rest ? `${path}?${rest}` : path;
}

/** One sandbox paging link (`{base}/{path}?...&_offset=N`) as HAPI writes it. */
function rewriteLink(link: BundleLink, baseUrl: string, register: (s: StoredSearch) => string): BundleLink {
  if (!link.url?.startsWith(`${baseUrl}/`)) return link;
  const relative = link.url.slice(baseUrl.length + 1);
  const q = relative.indexOf('?');
  const path = q >= 0 ? relative.slice(0, q) : relative;
  const params = new URLSearchParams(q >= 0 ? relative.slice(q + 1) : '');
  const offset = params.get('_offset') ?? '0';
  const count = params.get('_count');
  if (link.relation === 'self' && offset === '0') return link; // HAPI's first-page self is the request itself
  params.delete('_offset');
  params.delete('_count');
  const id = register({ path, params: params.toString() });
  const url = `${baseUrl}?_getpages=${id}&_getpagesoffset=${offset}${count ? `&_count=${count}` : ''}&_bundletype=searchset`;
  return { ...link, url };
}
