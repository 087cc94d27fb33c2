/** Why a hosted-model call failed. */
export type RemoteErrorKind =
  | 'not-deidentified'
  | 'timeout'
  | 'network'
  | 'http'
  | 'rate-limited'
  | 'server'
  | 'malformed'
  | 'schema'
  | 'refused'
  | 'truncated'
  | 'budget'
  | 'breaker-open';

/** Kinds that retrying the same job cannot fix: the reply or the request itself is wrong. */
const PERMANENT: ReadonlySet<RemoteErrorKind> = new Set([
  'not-deidentified',
  'http',
  'malformed',
  'schema',
  'refused',
  'truncated',
  'budget',
]);

/**
 * A hosted-model call that produced no usable output; nothing is written. `permanent` tells the job layer
 * not to retry (BullMQ `UnrecoverableError`); transient ones (timeouts, 429/5xx after retries, an open
 * circuit) are retried with the job's backoff. Messages carry no record content (no PHI in logs).
 */
export class RemoteModelError extends Error {
  readonly permanent: boolean;

  constructor(
    readonly kind: RemoteErrorKind,
    message: string,
    readonly status?: number,
    /** Server-requested wait that exceeded what we honour in-process (ms). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RemoteModelError';
    this.permanent = PERMANENT.has(kind);
  }
}

/** True for errors a retry cannot fix (a hosted model's malformed, refused, truncated or over-budget reply...). */
export function isPermanentModelError(err: unknown): err is RemoteModelError {
  return err instanceof RemoteModelError && err.permanent;
}
