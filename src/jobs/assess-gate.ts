import { DelayedError, type Job } from 'bullmq';
import { FhirHttpError } from '../fhir/fhir-client.js';
import type { BucketLimit, RateLimiter } from './rate-limiter.js';

/** Waits shorter than this are slept in place; longer ones give the worker slot back (ms). */
const SLEEP_IN_PLACE_MS = 250;
/** Cool-down of a source after a 429 that carried no Retry-After (ms). */
const DEFAULT_COOLDOWN_MS = 5_000;

/** The per-source EHR limit the assess worker applies (see docs/operations.md "Rate limits"). */
export interface AssessLimits {
  limiter: RateLimiter;
  ehr: BucketLimit;
}

/**
 * Runs one assessment job under its EHR source's token bucket.
 *
 * Why a Redis bucket and not BullMQ's `limiter`: BullMQ's limiter is per queue, shared by every
 * source, and `worker.rateLimit()` pauses the whole worker; a bucket per source lets one slow or
 * throttling EHR back off without holding up the others. A job that must wait long is moved back to
 * `delayed` (no attempt used, priority kept) so it does not hold a worker slot. When the EHR answers
 * 429 despite the client's own retries, the whole source cools down for its Retry-After (every worker
 * sees it) and the job fails this attempt, to be retried with backoff.
 */
export async function runWithSourceLimit<T>(
  job: Job,
  token: string | undefined,
  source: string,
  limits: AssessLimits | undefined,
  work: () => Promise<T>,
): Promise<T> {
  if (!limits) return work();
  const bucket = `ehr:${source}`;
  for (;;) {
    const wait = await limits.limiter.take(bucket, limits.ehr);
    if (wait === 0) break;
    if (wait > SLEEP_IN_PLACE_MS) {
      await job.moveToDelayed(Date.now() + wait, token);
      throw new DelayedError(`EHR ${source} rate limit: retry in ${wait} ms`);
    }
    await new Promise((r) => setTimeout(r, wait));
  }
  try {
    return await work();
  } catch (err) {
    if (err instanceof FhirHttpError && err.status === 429) {
      const retryAfter = (err as FhirHttpError & { retryAfterMs?: number }).retryAfterMs;
      await limits.limiter.coolDown(bucket, retryAfter ?? DEFAULT_COOLDOWN_MS).catch(() => {});
    }
    throw err;
  }
}
