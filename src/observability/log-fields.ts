import type { Job } from 'bullmq';
import type { Logger } from 'pino';

/**
 * The same log keys everywhere a job runs (style.md A5.9): queue, job id, attempt, and the patient or
 * resource reference the job is about. References and ids only, never resource content.
 */
export function jobLogFields(queue: string, job: Pick<Job, 'id' | 'attemptsMade' | 'data'>): Record<string, unknown> {
  const data = (job.data ?? {}) as Record<string, unknown>;
  const fields: Record<string, unknown> = { queue, jobId: job.id, attempt: job.attemptsMade + 1 };
  if (typeof data.source === 'string') fields.source = data.source;
  if (typeof data.patientId === 'string') fields.patientId = data.patientId;
  if (typeof data.requestId === 'string') fields.requestId = data.requestId;
  if (typeof data.resourceType === 'string' && typeof data.id === 'string')
    fields.resource = `${data.resourceType}/${data.id}`;
  return fields;
}

/** A child logger bound to one job's fields. */
export function jobLogger(logger: Logger, queue: string, job: Pick<Job, 'id' | 'attemptsMade' | 'data'>): Logger {
  return logger.child(jobLogFields(queue, job));
}
