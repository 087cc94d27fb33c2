import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { FHIR_ID } from '../fhir/fhir-id.js';
import { RedisScript } from '../intake/redis-script.js';
import { createQueue } from './create-queue.js';
import { ASSESS_QUEUE, PRIORITY, type PriorityClass } from './queue-names.js';
import type { RedisClient } from './redis-connection.js';

/** What an assessment job carries: references only (BullMQ stores job data in clear text). */
export const AssessJobSchema = z.object({
  source: z.string().min(1),
  patientId: z.string().regex(FHIR_ID),
  /** Why: `Type/id` of the triggering resource, `poll`, `api` or `backfill`. */
  trigger: z.string().max(140),
  priority: z.enum(['api', 'live', 'batch', 'backfill']),
  /** Model ids to run (default: every configured model). */
  models: z
    .array(z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/))
    .min(1)
    .max(16)
    .optional(),
  /** Run even when the record is unchanged (the API wants the resources back; write-back stays idempotent). */
  force: z.boolean().optional(),
  /** The `$assess` request or backfill run this job belongs to (an opaque id). */
  requestId: z
    .string()
    .regex(/^[A-Za-z0-9-]{6,48}$/)
    .optional(),
});
export type AssessJob = z.infer<typeof AssessJobSchema>;

/** Job return value: ids and counts only. */
export interface AssessJobResult {
  assessments: {
    modelId: string;
    modelVersion: string;
    /** Nothing computed: the record is unchanged, or the model registry stopped the version (retired, recalled). */
    skipped?: 'unchanged' | 'retired' | 'recalled';
    /** The assessment key (sha-256 of patient, model id@version, record hash): finds the shadow-store record. */
    key?: string;
    mode: string;
    written: string[];
    created: number;
  }[];
}

export type AssessQueue = Queue<AssessJob, AssessJobResult>;

export function createAssessQueue(connection: RedisClient, prefix: string): AssessQueue {
  return createQueue<AssessJob, AssessJobResult>(ASSESS_QUEUE, connection, prefix, {
    attempts: 6,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 14 * 24 * 3600 },
  });
}

/**
 * How live changes to one patient are coalesced (COALESCE_MODE): `leading` runs the first change of a
 * quiet patient at once and gathers what follows within the window into one run at the window's end;
 * `trailing` makes every change wait the window (a burst gives exactly one run, a lone change pays the window).
 */
export type CoalesceMode = 'leading' | 'trailing';

/**
 * The delay of a live assessment in `leading` mode, from the time of the last run scheduled for the
 * patient (kept in KEYS[1] for one window past it): none when that was at least a window ago (a
 * quiet patient: leading edge); the same run when it is still ahead (join it); else the end of the
 * window that run opened (trailing edge), which becomes the patient's last scheduled run. So a stream
 * of changes gives one run per window, and a lone change never waits. ARGV: window ms, now ms.
 */
const LEADING_EDGE = new RedisScript(`
local w = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
local last = tonumber(redis.call('get', KEYS[1]) or '')
local runAt = now
if last and now < last + w then
  if now <= last then runAt = last else runAt = last + w end
end
redis.call('set', KEYS[1], runAt, 'PX', runAt - now + w)
return runAt - now`);

/**
 * Schedules one assessment per patient, coalesced: while one is waiting (live events: delayed, see
 * CoalesceMode) more changes join it; while one runs, at most one more is kept to run after it on the
 * newest state. Each priority class coalesces separately: a live event must never join a waiting
 * backfill job (it would inherit the backfill's low priority).
 */
export async function enqueueAssessment(
  queue: AssessQueue,
  data: AssessJob,
  coalesceWindowMs: number,
  /** Live events: `leading` mode with the queue's Redis (which keeps each patient's last scheduled run); absent: `trailing`. */
  leading?: { redis: RedisClient },
) {
  const job = AssessJobSchema.parse(data);
  const id = deduplicationId(job);
  return queue.add('assess', job, {
    priority: PRIORITY[job.priority as PriorityClass],
    delay: job.priority === 'live' ? await liveDelay(queue, id, coalesceWindowMs, leading?.redis) : 0,
    deduplication: { id, keepLastIfActive: true },
  });
}

async function liveDelay(queue: AssessQueue, id: string, windowMs: number, redis?: RedisClient): Promise<number> {
  if (!redis || windowMs <= 0) return windowMs;
  // Under the queue's own key space (and hash tag, on Redis Cluster).
  const key = `${queue.opts.prefix}:${queue.name}:coalesce:${id}`;
  return LEADING_EDGE.run<number>(redis, [key], [windowMs, Date.now()]);
}

/** `{source}-{patientId}` for live events; other classes (and model selections) get their own key. */
export function deduplicationId(job: AssessJob): string {
  const base = `${job.source}-${job.patientId}`;
  const klass = job.priority === 'live' ? '' : `${job.priority}-`;
  const models = job.models ? `-${createHash('sha256').update(job.models.join(',')).digest('hex').slice(0, 12)}` : '';
  const force = job.force ? '-f' : '';
  return `${klass}${base}${models}${force}`;
}
