import type { Job } from 'bullmq';
import type { AssessJob, AssessJobResult, AssessQueue } from './assess-queue.js';
import { describeFailure, failureText, type JobFailure } from './job-failure.js';

/** Where one assessment job stands, as the status URL reports it. */
export interface JobOutcome {
  jobId: string;
  patientId?: string;
  state: 'completed' | 'failed' | 'pending' | 'missing';
  result?: AssessJobResult;
  /** Why it failed, explained (see describeFailure). */
  failure?: JobFailure;
  /** HTTP status that best describes a failure: 404/410 patient not on the EHR, 502 EHR or model, 500 ours. */
  failureStatus?: number;
  /** The failure as one line: what failed, the EHR's answer, what to do. */
  failedReason?: string;
}

/** Jobs looked up at once when computing a status (bounded fan-out against Redis). */
const LOOKUP_CHUNK = 100;

/** The state of each job id (in order). Jobs removed after their retention period are `missing`. */
export async function jobOutcomes(queue: AssessQueue, ids: string[]): Promise<JobOutcome[]> {
  const out: JobOutcome[] = [];
  for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
    const chunk = ids.slice(i, i + LOOKUP_CHUNK);
    out.push(...(await Promise.all(chunk.map((id) => outcomeOf(queue, id)))));
  }
  return out;
}

async function outcomeOf(queue: AssessQueue, id: string): Promise<JobOutcome> {
  // State first, then the job: the other order can see `completed` without the return value.
  const state = await queue.getJobState(id);
  const job = (await queue.getJob(id)) as Job<AssessJob, AssessJobResult> | undefined;
  if (!job || state === 'unknown') return { jobId: id, state: 'missing' };
  const base = { jobId: id, patientId: job.data?.patientId };
  if (state === 'completed') return { ...base, state, result: job.returnvalue };
  if (state === 'failed') {
    const failure = describeFailure(job);
    return { ...base, state, failure, failedReason: failureText(failure), failureStatus: failure.status };
  }
  return { ...base, state: 'pending' };
}

/** Counts by state, for `X-Progress`. */
export function tally(outcomes: JobOutcome[]): Record<JobOutcome['state'], number> {
  const t = { completed: 0, failed: 0, pending: 0, missing: 0 };
  for (const o of outcomes) t[o.state]++;
  return t;
}
