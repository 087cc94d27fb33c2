import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { FHIR_ID } from '../fhir/fhir-id.js';
import { createQueue } from './create-queue.js';
import { VALIDATE_QUEUE } from './queue-names.js';
import type { RedisClient } from './redis-connection.js';

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * One validation run, as `$validate-model` queues it: what to validate and on whom, by reference
 * only (BullMQ stores job data in clear text). The model is pinned to the version resolved when
 * the request was accepted.
 */
export const ValidateJobSchema = z.object({
  source: z.string().min(1),
  predictions: z
    .array(z.string().regex(/^[a-z0-9-]{1,64}$/))
    .min(1)
    .max(16),
  model: z.object({ id: z.string().min(1).max(64), version: z.string().min(1).max(64) }),
  asOf: z.string().regex(ISO_DATE),
  completeUntil: z.string().regex(ISO_DATE).optional(),
  selection: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('all') }),
    z.object({ kind: z.literal('group'), id: z.string().regex(FHIR_ID) }),
  ]),
  bootstrap: z.object({ reps: z.number().int().min(0), seed: z.number().int() }),
});
export type ValidateJob = z.infer<typeof ValidateJobSchema>;

/** What a finished run leaves in Redis: the stored reports' ids (the reports are in PostgreSQL). */
export interface ValidateJobResult {
  reports: { id: string; prediction: string }[];
  /** Patients read. */
  patients: number;
}

/** What a running job reports through `job.progress`. */
export interface ValidateJobProgress {
  phase: 'reading' | 'reporting';
  done: number;
  failed: number;
  total?: number;
  resumed: number;
}

export type ValidateQueue = Queue<ValidateJob, ValidateJobResult>;

/** Kept as long as a status URL lives (24 h); failures for two weeks, like assessments'. */
export function createValidateQueue(connection: RedisClient, prefix: string): ValidateQueue {
  return createQueue<ValidateJob, ValidateJobResult>(VALIDATE_QUEUE, connection, prefix, {
    attempts: 3,
    backoff: { type: 'exponential', delay: 10_000 },
    removeOnComplete: { age: 24 * 3600 },
    removeOnFail: { age: 14 * 24 * 3600 },
  });
}

/** The job id of a request: identical requests share one run (and its report). */
export function validateJobId(job: ValidateJob): string {
  const key = [
    job.source,
    job.selection,
    job.asOf,
    job.completeUntil ?? null,
    `${job.model.id}@${job.model.version}`,
    [...job.predictions].sort(),
    job.bootstrap,
  ];
  return `val-${createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 24)}`;
}

/**
 * Queues a run unless an identical one is queued, running or finished (BullMQ ignores an existing
 * job id); a failed one is retried, resuming from its checkpoint.
 * @returns the job id
 */
export async function enqueueValidation(queue: ValidateQueue, data: ValidateJob): Promise<string> {
  const job = ValidateJobSchema.parse(data);
  const jobId = validateJobId(job);
  const existing = await queue.getJob(jobId);
  if (!existing) {
    await queue.add('validate', job, { jobId });
  } else if ((await existing.getState()) === 'failed') {
    // Another request may have retried it a moment ago: then it is no longer failed, which is fine.
    await existing.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true }).catch(() => {});
  }
  return jobId;
}
