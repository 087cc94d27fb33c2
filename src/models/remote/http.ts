import { RemoteModelError } from './errors.js';

export interface RetryPolicy {
  /** Per attempt, ms. */
  timeoutMs: number;
  /** Attempts after the first. */
  maxRetries: number;
  /** Longest Retry-After honoured in-process, ms. */
  maxRetryWaitMs: number;
  /** Backoff base without Retry-After, ms (doubled per attempt). */
  retryBaseMs: number;
}

export interface HttpDeps {
  fetch: typeof fetch;
  /** Waits between attempts; injectable so tests can record the waits. */
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

export interface HttpReply {
  status: number;
  text: string;
}

/** Statuses worth retrying: request timeout, rate limit, server errors. */
const RETRYABLE = (status: number) => status === 408 || status === 429 || status >= 500;

/**
 * The wait a 429/503 asks for, in ms: Azure's `retry-after-ms`, else `Retry-After` as seconds or an HTTP date.
 * Undefined when absent or unparseable.
 */
export function retryAfterMs(headers: Headers, now: number): number | undefined {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

type Attempt = { reply: HttpReply } | { error: RemoteModelError; waitMs?: number };

/** One attempt: a reply with a final status, or a (retryable) error with the wait the server asked for. */
async function attempt(url: string, init: RequestInit, policy: RetryPolicy, deps: HttpDeps): Promise<Attempt> {
  let res: Response;
  try {
    // redirect: 'error' keeps every request on the configured endpoint.
    res = await deps.fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(policy.timeoutMs) });
  } catch (err) {
    const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
    const kind = timedOut ? 'timeout' : 'network';
    return {
      error: new RemoteModelError(
        kind,
        timedOut ? `no reply within ${policy.timeoutMs} ms` : `network error: ${(err as Error).message}`,
      ),
    };
  }
  const text = await res.text().catch(() => '');
  if (!RETRYABLE(res.status)) return { reply: { status: res.status, text } };
  const kind = res.status === 429 ? 'rate-limited' : 'server';
  return {
    error: new RemoteModelError(kind, `model endpoint answered HTTP ${res.status}`, res.status),
    waitMs: retryAfterMs(res.headers, deps.now()),
  };
}

/**
 * POSTs with a timeout per attempt, retrying 408/429/5xx, timeouts and network errors up to `maxRetries` times.
 * The wait honours `Retry-After` (or `retry-after-ms`); without it, exponential backoff from `retryBaseMs`.
 * @returns the first non-retryable reply (2xx or another 4xx)
 * @throws RemoteModelError (transient) when retries are exhausted or the server asks to wait longer than allowed
 */
export async function postWithRetries(
  url: string,
  init: RequestInit,
  policy: RetryPolicy,
  deps: HttpDeps,
): Promise<HttpReply> {
  for (let n = 0; ; n++) {
    const a = await attempt(url, init, policy, deps);
    if ('reply' in a) return a.reply;
    const wait = a.waitMs ?? policy.retryBaseMs * 2 ** n;
    if (a.waitMs !== undefined && a.waitMs > policy.maxRetryWaitMs) {
      throw new RemoteModelError(
        a.error.kind,
        `${a.error.message}; Retry-After ${a.waitMs} ms exceeds ${policy.maxRetryWaitMs} ms`,
        a.error.status,
        a.waitMs,
      );
    }
    if (n >= policy.maxRetries) {
      throw new RemoteModelError(
        a.error.kind,
        `${a.error.message} (after ${n + 1} attempts)`,
        a.error.status,
        a.waitMs,
      );
    }
    await deps.sleep(wait);
  }
}
