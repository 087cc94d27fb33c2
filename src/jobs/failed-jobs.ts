import type { Job, Queue } from 'bullmq';

/** One failed job as `fhir-assess jobs failed` shows it: ids and references only. */
export interface FailedJobRow {
  id: string;
  queue: string;
  /** `Patient/{id}` (assess jobs, events that named a patient) or the changed resource's `Type/id`. */
  ref: string;
  reason: string;
  attempts: number;
  /** When it failed for the last time (ISO). */
  failedAt: string;
}

/** Longest failure reason shown in the table (characters). */
const REASON_WIDTH = 120;

/** Failed jobs of the given queues, newest first, at most `limit` per queue. */
export async function listFailedJobs(queues: Queue[], limit: number): Promise<FailedJobRow[]> {
  const rows: FailedJobRow[] = [];
  for (const queue of queues) {
    const jobs = await queue.getFailed(0, Math.max(0, limit - 1));
    for (const job of jobs as Job[]) if (job) rows.push(toRow(queue.name, job));
  }
  return rows.sort((a, b) => b.failedAt.localeCompare(a.failedAt));
}

function toRow(queue: string, job: Job): FailedJobRow {
  return {
    id: String(job.id),
    queue,
    ref: referenceOf(job.data as Record<string, unknown>),
    reason: (job.failedReason ?? '').replace(/\s+/g, ' ').slice(0, REASON_WIDTH),
    attempts: job.attemptsMade,
    failedAt: new Date(job.finishedOn ?? job.processedOn ?? job.timestamp).toISOString(),
  };
}

/** The reference a job is about, from its data (which holds references only). */
export function referenceOf(data: Record<string, unknown>): string {
  if (typeof data?.patientId === 'string') return `Patient/${data.patientId}`;
  if (typeof data?.resourceType === 'string' && typeof data.id === 'string') return `${data.resourceType}/${data.id}`;
  return typeof data?.interaction === 'string' ? `(${data.interaction})` : '-';
}

/** Outcome of a retry request. */
export interface RetryResult {
  retried: { queue: string; id: string }[];
  notFound: string[];
}

/**
 * Moves failed jobs back to waiting (their attempt count restarts). `ids` names jobs in any of the
 * queues; a bare id found failed in several queues is retried in each (pass `queue/id` to pick one).
 */
export async function retryFailedJobs(queues: Queue[], ids: string[]): Promise<RetryResult> {
  const result: RetryResult = { retried: [], notFound: [] };
  for (const raw of ids) {
    const [queueName, id] = raw.includes('/') ? raw.split('/', 2) : [undefined, raw];
    let found = false;
    for (const queue of queues) {
      if (queueName && queue.name !== queueName) continue;
      const job = await queue.getJob(id);
      if (!job || !(await job.isFailed())) continue;
      await job.retry('failed');
      result.retried.push({ queue: queue.name, id });
      found = true;
    }
    if (!found) result.notFound.push(raw);
  }
  return result;
}

/** Retries every failed job of the given queues; returns how many were moved back per queue. */
export async function retryAllFailed(queues: Queue[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const queue of queues) {
    counts[queue.name] = await queue.getFailedCount();
    // retryJobs moves them in batches of `count` until none is left.
    await queue.retryJobs({ state: 'failed', count: 1000 });
  }
  return counts;
}
