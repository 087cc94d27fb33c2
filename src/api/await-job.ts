import type { OperationOutcome } from '@medplum/fhirtypes';
import type { QueueEvents } from 'bullmq';
import type { AssessJobResult, AssessQueue } from '../jobs/assess-queue.js';
import { describeFailure, failureOutcome } from '../jobs/job-failure.js';

export type Finished =
  | { state: 'completed'; result: AssessJobResult }
  /** `status` and `outcome` (what failed, what to do, the EHR's answer) as describeFailure explains it. */
  | { state: 'failed'; status: number; reason: string; outcome: OperationOutcome }
  | { state: 'timeout' };

/**
 * Waits up to `ms` for an assessment job to finish (completion events via QueueEvents; BullMQ also
 * checks the job's state once subscribed, so a job that finished first is not missed).
 */
export async function waitForJob(
  queue: AssessQueue,
  events: QueueEvents,
  jobId: string,
  ms: number,
): Promise<Finished> {
  const job = await queue.getJob(jobId);
  if (!job) return { state: 'timeout' };
  if (ms > 0) {
    try {
      return { state: 'completed', result: (await job.waitUntilFinished(events, ms)) as AssessJobResult };
    } catch {
      // Timed out, or failed: the job's state tells which.
    }
  }
  // State first, then the job: read the other way round, a job finishing in between looks
  // completed with the return value it did not have yet (null).
  const state = await queue.getJobState(jobId);
  const fresh = state === 'failed' || state === 'completed' ? await queue.getJob(jobId) : undefined;
  if (fresh && state === 'failed') {
    const failure = describeFailure(fresh);
    const subject = `Patient/${fresh.data.patientId}`;
    return {
      state: 'failed',
      status: failure.status,
      reason: fresh.failedReason ?? 'failed',
      outcome: failureOutcome(failure, subject),
    };
  }
  if (fresh && state === 'completed') return { state: 'completed', result: fresh.returnvalue };
  return { state: 'timeout' };
}
