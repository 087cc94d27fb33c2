import { createHash } from 'node:crypto';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import { FHIR_ID } from '../fhir/fhir-id.js';
import type { Gap } from '../intake/event-ledger.js';
import { createQueue } from './create-queue.js';
import type { RedisClient } from './redis-connection.js';

/** The intake maintenance queue: gap recovery, polling, reconciliation, the heartbeat watchdog. */
export const INTAKE_QUEUE = 'intake';

const source = z.string().min(1).max(32);
const subscriptionId = z.string().regex(FHIR_ID);
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Intake job data: ids, numbers and times only (BullMQ stores job data in clear text). */
export const IntakeJobSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('recover-gap'),
    source,
    subscriptionId,
    from: count,
    until: count,
    fromAt: count,
    untilAt: count,
    tracked: z.boolean(),
  }),
  /** `poll`: the source cannot push; `reconcile`: a safety net alongside push. */
  z.object({ kind: z.enum(['poll', 'reconcile']), source }),
  z.object({ kind: z.literal('watchdog'), source }),
]);
export type IntakeJob = z.infer<typeof IntakeJobSchema>;
export type GapJob = Extract<IntakeJob, { kind: 'recover-gap' }>;

export type IntakeQueue = Queue<IntakeJob>;

export function createIntakeQueue(connection: RedisClient, prefix: string): IntakeQueue {
  return createQueue<IntakeJob>(INTAKE_QUEUE, connection, prefix, {
    attempts: 5,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: 24 * 3600, count: 1000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
}

/** Deterministic job id of a gap's recovery, so scheduling it twice (watchdog, retries) stores it once. */
export function gapJobId(source: string, subscription: string, from: number, until: number): string {
  const digest = createHash('sha256').update(`${source}|${subscription}|${from}|${until}`).digest('hex');
  return `gap-${digest.slice(0, 40)}`;
}

/** Schedules the recovery of a gap after the grace period (a late arrival may still fill it). */
export async function scheduleGapRecovery(
  queue: IntakeQueue,
  src: string,
  subscription: string,
  gap: Gap,
  delayMs: number,
): Promise<void> {
  const data: GapJob = { kind: 'recover-gap', source: src, subscriptionId: subscription, ...gap };
  await queue.add('recover-gap', IntakeJobSchema.parse(data), {
    jobId: gapJobId(src, subscription, gap.from, gap.until),
    delay: delayMs,
  });
}

/** Cancels a gap's pending recovery: every missing event arrived late, within the grace period. */
export async function cancelGapRecovery(
  queue: IntakeQueue,
  src: string,
  subscription: string,
  from: number,
  until: number,
): Promise<boolean> {
  const job = await queue.getJob(gapJobId(src, subscription, from, until));
  if (!job || !(await job.isDelayed())) return false;
  // A recovery that already started finds nothing missing and stops; only a delayed one is removed.
  await job.remove().catch(() => {});
  return true;
}

const shared = new WeakMap<RedisClient, Map<string, IntakeQueue>>();

/**
 * One intake Queue per (connection, prefix), for code that only adds or removes jobs on a connection
 * someone else owns (the notify route, the events worker). It shares that connection, so it goes away
 * with it; there is nothing of its own to close.
 */
export function sharedIntakeQueue(connection: RedisClient, prefix: string): IntakeQueue {
  const byPrefix = shared.get(connection) ?? new Map<string, IntakeQueue>();
  shared.set(connection, byPrefix);
  const queue = byPrefix.get(prefix) ?? createIntakeQueue(connection, prefix);
  byPrefix.set(prefix, queue);
  return queue;
}
