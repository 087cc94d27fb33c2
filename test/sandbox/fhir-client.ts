import type { Bundle, Resource } from '@medplum/fhirtypes';

/** A response of the sandbox, body parsed as JSON. */
export interface FhirResult<T = Resource> {
  status: number;
  headers: Headers;
  body: T;
}

/** Minimal raw-fetch FHIR client for tests (no MedplumClient: we test the wire). */
export function fhirClient(baseUrl: string) {
  async function call<T = Resource>(method: string, path: string, body?: unknown): Promise<FhirResult<T>> {
    const url = path.startsWith('http') ? path : `${baseUrl}/${path}`;
    const res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/fhir+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as T };
  }
  return {
    get: <T = Resource>(path: string) => call<T>('GET', path),
    post: <T = Resource>(path: string, body: unknown) => call<T>('POST', path, body),
    put: <T = Resource>(path: string, body: unknown) => call<T>('PUT', path, body),
    delete: (path: string) => call('DELETE', path),
    /** Follows `next` links from `path` and returns every page. */
    async pages(path: string): Promise<Bundle[]> {
      const pages: Bundle[] = [];
      let next: string | undefined = path;
      while (next) {
        const page: FhirResult<Bundle> = await call<Bundle>('GET', next);
        if (page.status !== 200) throw new Error(`GET ${next} -> ${page.status}`);
        pages.push(page.body);
        next = page.body.link?.find((l) => l.relation === 'next')?.url;
        if (pages.length > 1000) throw new Error('too many pages');
      }
      return pages;
    },
  };
}

/** Ids of the resources in a Bundle. */
export function idsOf(bundle: Bundle): string[] {
  return (bundle.entry ?? []).map((e) => e.resource?.id as string);
}
