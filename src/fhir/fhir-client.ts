import { normalizeOperationOutcome, OperationOutcomeError, serverError } from '@medplum/core';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { BaseUrlGuard } from './base-url-guard.js';

export interface FhirClientOptions {
  baseUrl: string;
  bearerToken?: string;
  /** Per request, ms. */
  timeoutMs?: number;
  /** Attempts for 408/429/5xx and connection errors. */
  maxAttempts?: number;
  fetch?: typeof fetch;
}

/** An EHR answer that was not 2xx: carries the HTTP status and the EHR's own OperationOutcome. */
export class FhirHttpError extends OperationOutcomeError {
  constructor(
    readonly status: number,
    outcome: OperationOutcome,
    readonly url: string,
  ) {
    super(outcome);
    this.name = 'FhirHttpError';
  }

  get retryable(): boolean {
    return this.status === 408 || this.status === 429 || this.status >= 500;
  }
}

const FHIR_JSON = 'application/fhir+json';
const RETRY_BASE_MS = 250;

/**
 * A thin FHIR REST client over fetch. We do not use MedplumClient here: its pager re-targets next
 * links (loops on HAPI `_getpages` links), it ignores Retry-After, and its login can loop on 401
 * (see ../shared/docs/library-notes.md). Every URL goes through the base-URL guard.
 */
export class FhirClient {
  readonly guard: BaseUrlGuard;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: FhirClientOptions) {
    this.guard = new BaseUrlGuard(opts.baseUrl);
    this.fetchImpl = opts.fetch ?? fetch;
  }

  get baseUrl(): string {
    return this.guard.base.href.replace(/\/$/, '');
  }

  async read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T> {
    return this.request<T>('GET', `${resourceType}/${encodeURIComponent(id)}`);
  }

  async get<T = Resource>(pathOrUrl: string, query?: Record<string, string>): Promise<T> {
    const path = query ? `${pathOrUrl}?${new URLSearchParams(query)}` : pathOrUrl;
    return this.request<T>('GET', path);
  }

  async create<T extends Resource>(resource: T, ifNoneExist?: string): Promise<T> {
    return this.request<T>(
      'POST',
      resource.resourceType,
      resource,
      ifNoneExist ? { 'If-None-Exist': ifNoneExist } : {},
    );
  }

  async update<T extends Resource>(resource: T & { id: string }): Promise<T> {
    return this.request<T>('PUT', `${resource.resourceType}/${resource.id}`, resource);
  }

  /** POSTs a batch or transaction Bundle to the base. */
  async transaction(bundle: Bundle): Promise<Bundle> {
    return this.request<Bundle>('POST', '', bundle);
  }

  /** Yields every page of a search or operation, following `next` links verbatim (same base only). */
  async *pages(pathOrUrl: string, query?: Record<string, string>): AsyncGenerator<Bundle> {
    let bundle = await this.get<Bundle>(pathOrUrl, query);
    const seen = new Set<string>();
    for (;;) {
      yield bundle;
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      if (!next) return;
      if (seen.has(next)) throw new Error('EHR returned the same next link twice; stopping to avoid a loop');
      seen.add(next);
      bundle = await this.get<Bundle>(next);
    }
  }

  /** All resources of a search, every page. */
  async searchAll<T extends Resource>(pathOrUrl: string, query?: Record<string, string>): Promise<T[]> {
    const out: T[] = [];
    for await (const page of this.pages(pathOrUrl, query)) {
      for (const e of page.entry ?? []) if (e.resource && e.search?.mode !== 'outcome') out.push(e.resource as T);
    }
    return out;
  }

  async request<T>(
    method: string,
    pathOrUrl: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const url = this.guard.resolve(pathOrUrl);
    const attempts = this.opts.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, url, body, headers);
      } catch (err) {
        const retryable = err instanceof FhirHttpError ? err.retryable : isConnectionError(err);
        if (!retryable || attempt >= attempts) throw err;
        const retryAfterMs =
          err instanceof FhirHttpError ? (err as FhirHttpError & { retryAfterMs?: number }).retryAfterMs : undefined;
        await sleep(retryAfterMs ?? RETRY_BASE_MS * 2 ** (attempt - 1) * (0.5 + Math.random()));
      }
    }
  }

  private async once<T>(method: string, url: URL, body: unknown, headers: Record<string, string>): Promise<T> {
    const res = await this.fetchImpl(url, {
      method,
      headers: {
        Accept: FHIR_JSON,
        ...(body === undefined ? {} : { 'Content-Type': FHIR_JSON }),
        ...(this.opts.bearerToken ? { Authorization: `Bearer ${this.opts.bearerToken}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      redirect: 'error',
    });
    const text = await res.text();
    const json = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const outcome =
        json?.resourceType === 'OperationOutcome'
          ? normalizeOperationOutcome(json)
          : serverError(new Error(`EHR answered HTTP ${res.status} to ${method} ${url.pathname}`));
      const error = new FhirHttpError(res.status, outcome, url.pathname) as FhirHttpError & { retryAfterMs?: number };
      error.retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      throw error;
    }
    return json as T;
  }
}

function safeJson(text: string): { resourceType?: string } | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Retry-After as seconds or an HTTP date, capped at 60 s so one header cannot stall a job. */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const secs = Number(value);
  const ms = Number.isFinite(secs) ? secs * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 60_000) : undefined;
}

function isConnectionError(err: unknown): boolean {
  const e = err as { name?: string; cause?: { code?: string } };
  return e?.name === 'TimeoutError' || e?.name === 'TypeError' || !!e?.cause?.code;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
