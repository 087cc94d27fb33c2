import type { AuthProvider } from '../fhir/auth/auth-provider.js';
import type { BaseUrlGuard } from '../fhir/base-url-guard.js';
import { parseRetryAfter } from '../fhir/retry-policy.js';

/** The completion manifest of a Bulk Data export (Bulk Data IG, "Response - Complete Status"). */
export interface BulkManifest {
  transactionTime: string;
  requiresAccessToken?: boolean;
  output: { type: string; url: string; count?: number }[];
  error?: { type: string; url: string }[];
}

/** A Bulk Data export that failed or could not be followed. */
export class BulkExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BulkExportError';
  }
}

export interface BulkClientOptions {
  guard: BaseUrlGuard;
  auth: AuthProvider;
  /** Per HTTP request, ms. */
  timeoutMs: number;
  /** Longest total wait for the export to complete, ms (default 1 h). */
  maxWaitMs?: number;
  fetch?: typeof fetch;
}

/** Poll interval bounds when the server sends no (or an extreme) Retry-After, ms. */
const MIN_POLL_MS = 100;
const MAX_POLL_MS = 120_000;
const DEFAULT_POLL_MS = 2_000;
/** Longest download of one NDJSON file (the body streams for its whole duration), ms: 30 min. */
const FILE_TIMEOUT_MS = 30 * 60_000;

/**
 * Bulk Data `$export` client (standards.md §2b): kick-off with `Prefer: respond-async`, status
 * polling that honours Retry-After, and NDJSON files streamed line by line. Every URL (the status
 * URL and each file) must be under the configured FHIR base: files on another host are refused.
 */
export class BulkExportClient {
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: BulkClientOptions) {
    this.fetchImpl = opts.fetch ?? fetch;
  }

  /** Starts an export; returns the absolute status URL. */
  async kickOff(path: string, query: Record<string, string>): Promise<string> {
    const res = await this.send('GET', `${path}?${new URLSearchParams(query)}`, { Prefer: 'respond-async' });
    await res.body?.cancel();
    if (res.status !== 202) throw new BulkExportError(`$export kick-off answered HTTP ${res.status}, expected 202`);
    const location = res.headers.get('content-location');
    if (!location) throw new BulkExportError('$export kick-off answered 202 without Content-Location');
    return this.opts.guard.resolve(location).href;
  }

  /** Polls the status URL until the manifest is ready (202 + Retry-After while running). */
  async waitForManifest(
    statusUrl: string,
    signal?: AbortSignal,
    onProgress?: (text: string) => void,
  ): Promise<BulkManifest> {
    const deadline = Date.now() + (this.opts.maxWaitMs ?? 3_600_000);
    for (let attempt = 1; ; attempt++) {
      const res = await this.send('GET', statusUrl);
      if (res.status === 200) return (await res.json()) as BulkManifest;
      await res.body?.cancel();
      if (res.status !== 202 && res.status !== 429 && res.status < 500)
        throw new BulkExportError(`$export status answered HTTP ${res.status}`);
      onProgress?.(res.headers.get('x-progress') ?? `waiting (HTTP ${res.status})`);
      const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
      const wait = Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, retryAfter ?? DEFAULT_POLL_MS * Math.min(attempt, 10)));
      if (Date.now() + wait > deadline) throw new BulkExportError('$export did not complete within the allowed time');
      await sleep(wait, signal);
    }
  }

  /** Asks the server to stop and delete an export (best effort). */
  async cancel(statusUrl: string): Promise<void> {
    const res = await this.send('DELETE', statusUrl).catch(() => undefined);
    await res?.body?.cancel();
  }

  /** The lines of one NDJSON file, streamed (never the whole file in memory). */
  async *lines(url: string, requiresToken: boolean, signal?: AbortSignal): AsyncGenerator<string> {
    const res = await this.send(
      'GET',
      url,
      { Accept: 'application/fhir+ndjson' },
      requiresToken,
      signal,
      FILE_TIMEOUT_MS,
    );
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      throw new BulkExportError(`export file answered HTTP ${res.status} (expired? run again with --restart)`);
    }
    let buffer = '';
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl = buffer.indexOf('\n');
      while (nl >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) yield line;
        nl = buffer.indexOf('\n');
      }
    }
    if (buffer.trim()) yield buffer.trim();
  }

  private async send(
    method: string,
    pathOrUrl: string,
    headers: Record<string, string> = {},
    withToken = true,
    signal?: AbortSignal,
    timeoutMs = this.opts.timeoutMs,
  ): Promise<Response> {
    const url = this.opts.guard.resolve(pathOrUrl); // throws ForeignUrlError outside the base
    const authorization = withToken ? await this.opts.auth.authorization() : undefined;
    return this.fetchImpl(url, {
      method,
      headers: {
        Accept: 'application/fhir+json',
        ...(authorization ? { Authorization: authorization } : {}),
        ...headers,
      },
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
