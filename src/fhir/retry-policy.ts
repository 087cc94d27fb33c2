/** When and how long to wait before repeating an EHR request. */
export interface RetryPolicy {
  /** Attempts in total (first try included). */
  maxAttempts: number;
  /** First backoff, ms; doubles each attempt, with ±50 % jitter. */
  baseDelayMs: number;
  /** Longest backoff, ms. */
  maxDelayMs: number;
  /**
   * Longest Retry-After we wait for in-process, ms. A longer one fails the request at once (still
   * retryable, with `retryAfterMs` set) so the job queue can reschedule instead of holding a worker.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
};

/** Exponential backoff with jitter for attempt `n` (1-based: the wait after the n-th failure). */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp * (0.5 + random()));
}

/**
 * `Retry-After` as delay-seconds or an HTTP date, in ms (never negative); undefined when absent or
 * unparseable. RFC 9110 §10.2.3.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** Errors fetch raises when no HTTP answer came back: refused, reset, DNS, TLS, or our timeout. */
export function connectionFailure(err: unknown): string | undefined {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'no answer within the timeout';
  if (e?.name === 'AbortError') return 'request aborted';
  if (e?.cause?.code) return `connection error ${e.cause.code}`;
  if (e?.name === 'TypeError' && /fetch failed|terminated|socket/i.test(e.message ?? '')) {
    return `connection error (${e.cause?.message ?? e.message})`;
  }
  return undefined;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
