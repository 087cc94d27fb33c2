import { normalizeOperationOutcome } from '@medplum/core';
import type { Bundle, OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { type Span, SpanKind } from '@opentelemetry/api';
import { inSpan, traceHeaders } from '../observability/tracing.js';
import { type AuthProvider, noAuth, staticBearer } from './auth/auth-provider.js';
import { BaseUrlGuard } from './base-url-guard.js';
import { discoverCapabilities, type EhrCapabilities } from './capabilities.js';
import { FhirConnectionError, FhirHttpError, localOutcome } from './fhir-errors.js';
import { readBodyLimited } from './read-body.js';
import {
  backoffMs,
  connectionFailure,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  type RetryPolicy,
  sleep,
} from './retry-policy.js';
import { Semaphore } from './semaphore.js';

export { AuthError, FhirConnectionError, FhirHttpError, FhirResponseTooLargeError } from './fhir-errors.js';

export interface FhirClientOptions {
  baseUrl: string;
  /** Static bearer token; ignored when `auth` is given. */
  bearerToken?: string;
  /** How requests are authorised (SMART Backend Services, client credentials, ...). */
  auth?: AuthProvider;
  /** Per request attempt, body included, ms. Default 30 s. */
  timeoutMs?: number;
  /** Attempts in total for 408/429/5xx and connection errors. Default 4. */
  maxAttempts?: number;
  /** Backoff and Retry-After limits (see RetryPolicy). */
  retry?: Partial<RetryPolicy>;
  /** Requests in flight to this EHR at once. Default 8. */
  maxConcurrency?: number;
  /** Largest response body read, bytes. Default 64 MiB. */
  maxResponseBytes?: number;
  /** Most pages one `pages()` call follows. Default 10,000. */
  maxPages?: number;
  fetch?: typeof fetch;
}

/** What this client has sent, for metrics, tests and the benchmark. */
export interface FhirClientStats {
  /** HTTP requests sent to the EHR (retries included, token requests not). */
  requests: number;
  /** Of those, repeats after a retryable failure. */
  retries: number;
  /** Repeats after a 401 with a fresh token. */
  reauthenticated: number;
}

/** One EHR answer with what a write needs besides the body (which may be empty: `Prefer: return=minimal`). */
export interface FhirReply<T> {
  status: number;
  /** Parsed JSON body; undefined when the body was empty. */
  body?: T;
  /** `Location` (or, failing that, `Content-Location`) header. */
  location?: string;
  /** `ETag` header, e.g. `W/"3"`. */
  etag?: string;
}

const FHIR_JSON = 'application/fhir+json';
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const DEFAULT_MAX_PAGES = 10_000;

/**
 * A thin FHIR REST client over fetch. We do not use MedplumClient here: its pager re-targets next
 * links (loops on HAPI `_getpages` links), it ignores Retry-After, and its login can loop on 401
 * (see ../shared/docs/library-notes.md). Every URL goes through the base-URL guard before anything
 * (a token included) is sent; requests share a per-EHR concurrency limit.
 */
export class FhirClient {
  readonly guard: BaseUrlGuard;
  readonly stats: FhirClientStats = { requests: 0, retries: 0, reauthenticated: 0 };
  private readonly fetchImpl: typeof fetch;
  private readonly auth: AuthProvider;
  private readonly policy: RetryPolicy;
  private readonly limiter: Semaphore;
  private caps?: Promise<EhrCapabilities>;

  constructor(private readonly opts: FhirClientOptions) {
    this.guard = new BaseUrlGuard(opts.baseUrl);
    this.fetchImpl = opts.fetch ?? fetch;
    this.auth = opts.auth ?? (opts.bearerToken ? staticBearer(opts.bearerToken) : noAuth);
    this.policy = {
      ...DEFAULT_RETRY_POLICY,
      ...opts.retry,
      maxAttempts: opts.maxAttempts ?? opts.retry?.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts,
    };
    this.limiter = new Semaphore(opts.maxConcurrency ?? 8);
  }

  get baseUrl(): string {
    return this.guard.base.href.replace(/\/$/, '');
  }

  /** Token endpoint requests made by this client's auth. */
  get tokenRequests(): number {
    return this.auth.tokenRequests;
  }

  /**
   * The EHR's CapabilityStatement, summarised, fetched once and cached; a failed discovery is
   * forgotten so the next call tries again.
   */
  capabilities(): Promise<EhrCapabilities> {
    this.caps ??= discoverCapabilities(this).catch((err) => {
      this.caps = undefined;
      throw err;
    });
    return this.caps;
  }

  async read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T> {
    return this.request<T>('GET', `${resourceType}/${encodeURIComponent(id)}`);
  }

  async get<T = Resource>(pathOrUrl: string, query?: Record<string, string>): Promise<T> {
    const path = query ? `${pathOrUrl}?${new URLSearchParams(query)}` : pathOrUrl;
    return this.request<T>('GET', path);
  }

  async create<T extends Resource>(resource: T, ifNoneExist?: string): Promise<T> {
    const headers: Record<string, string> = ifNoneExist ? { 'If-None-Exist': ifNoneExist } : {};
    return this.request<T>('POST', resource.resourceType, resource, headers);
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
    yield* this.follow(await this.get<Bundle>(pathOrUrl, query));
  }

  /**
   * Yields `first`, then every page its `next` links lead to. A next link outside the base throws
   * ForeignUrlError before anything is sent; a repeated link or more than `maxPages` pages throws
   * instead of looping.
   */
  async *follow(first: Bundle): AsyncGenerator<Bundle> {
    const seen = new Set<string>();
    const maxPages = this.opts.maxPages ?? DEFAULT_MAX_PAGES;
    let bundle = first;
    for (let page = 1; ; page++) {
      const next = bundle.link?.find((l) => l.relation === 'next')?.url;
      let pending: Promise<Bundle> | undefined;
      if (next) {
        if (seen.has(next)) throw new Error('EHR returned the same next link twice; stopping to avoid a loop');
        if (page >= maxPages) throw new Error(`more than ${maxPages} pages; stopping (maxPages)`);
        seen.add(next);
        // Ask for the next page before the caller works on this one, so its CPU overlaps our wait.
        pending = this.get<Bundle>(next);
        pending.catch(() => {}); // a caller that stops early must not leave an unhandled rejection
        await new Promise((resolve) => setImmediate(resolve)); // let the request leave before the CPU work
      }
      yield bundle;
      if (!pending) return;
      bundle = await pending;
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

  /**
   * One logical request: retried with backoff and jitter on 408/429/5xx and connection errors
   * (Retry-After honoured up to `maxRetryAfterMs`), re-authenticated once on 401, never on other 4xx.
   */
  async request<T>(
    method: string,
    pathOrUrl: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    return (await this.exchange<T>(method, pathOrUrl, body, headers)).body as T;
  }

  /** {@link request}, answering with the HTTP status and the Location/ETag headers as well as the body. */
  async exchange<T>(
    method: string,
    pathOrUrl: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<FhirReply<T>> {
    const url = this.guard.resolve(pathOrUrl);
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.limiter.run(() => this.once<T>(method, url, body, headers));
      } catch (err) {
        if (err instanceof FhirHttpError && err.status === 401 && !reauthenticated && this.auth.invalidate()) {
          reauthenticated = true; // once: a second 401 is final (no login loop, library-notes trap C)
          this.stats.reauthenticated++;
          attempt--;
          continue;
        }
        const wait = this.retryDelay(err, attempt);
        if (wait === undefined) throw finalError(err, `${method} ${url.pathname}`, attempt);
        this.stats.retries++;
        await sleep(wait);
      }
    }
  }

  /** Delay before the next attempt, or undefined when the error is final. */
  private retryDelay(err: unknown, attempt: number): number | undefined {
    if (attempt >= this.policy.maxAttempts) return undefined;
    if (err instanceof FhirHttpError) {
      if (!err.retryable) return undefined;
      if (err.retryAfterMs === undefined) return backoffMs(this.policy, attempt);
      return err.retryAfterMs <= this.policy.maxRetryAfterMs ? err.retryAfterMs : undefined;
    }
    return connectionFailure(err) ? backoffMs(this.policy, attempt) : undefined;
  }

  private async once<T>(
    method: string,
    url: URL,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<FhirReply<T>> {
    const authorization = await this.auth.authorization();
    this.stats.requests++;
    const allHeaders = { ...(authorization ? { Authorization: authorization } : {}), ...headers };
    const name = () => `FHIR ${method} ${fhirTarget(url, this.baseUrl)}`;
    return inSpan(name, (span) => this.send<T>(method, url, body, allHeaders, span), {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': method, 'url.path': url.pathname, 'server.address': url.hostname },
    });
  }

  /** One HTTP exchange inside its client span; the EHR receives our `traceparent`. */
  private async send<T>(
    method: string,
    url: URL,
    body: unknown,
    headers: Record<string, string>,
    span: Span,
  ): Promise<FhirReply<T>> {
    const res = await this.fetchImpl(url, {
      method,
      headers: {
        Accept: FHIR_JSON,
        ...(body === undefined ? {} : { 'Content-Type': FHIR_JSON }),
        ...traceHeaders(),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS),
      redirect: 'error', // a redirect could lead off the base URL
    });
    span.setAttribute('http.response.status_code', res.status);
    const text = await readBodyLimited(res, this.opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, url.pathname);
    const json = text ? safeJson(text) : undefined;
    if (!res.ok) {
      const outcome: OperationOutcome =
        json?.resourceType === 'OperationOutcome'
          ? normalizeOperationOutcome(json)
          : localOutcome(issueCode(res.status), `EHR answered HTTP ${res.status} to ${method} ${url.pathname}`);
      const error = new FhirHttpError(res.status, outcome, url.pathname);
      error.retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      throw error;
    }
    const location = res.headers.get('location') ?? res.headers.get('content-location') ?? undefined;
    return { status: res.status, body: json as T | undefined, location, etag: res.headers.get('etag') ?? undefined };
  }
}

/** Connection failures become one FhirConnectionError naming the request and the attempts. */
function finalError(err: unknown, what: string, attempts: number): unknown {
  const reason = connectionFailure(err);
  return reason ? new FhirConnectionError(what, reason, attempts) : err;
}

function issueCode(status: number): OperationOutcomeIssue['code'] {
  if (status === 401 || status === 403) return 'security';
  if (status === 404 || status === 410) return 'not-found';
  if (status === 429) return 'throttled';
  return status >= 500 ? 'transient' : 'processing';
}

function safeJson(text: string): { resourceType?: string } | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A low-cardinality span name: the first path segment under the base (a type, or the base itself). */
function fhirTarget(url: URL, baseUrl: string): string {
  const base = new URL(baseUrl).pathname.replace(/\/$/, '');
  const rest = url.pathname.startsWith(base) ? url.pathname.slice(base.length) : url.pathname;
  return rest.split('/')[1] || '(base)';
}
