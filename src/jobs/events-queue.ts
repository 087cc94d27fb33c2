import { createHash } from 'node:crypto';
import { type Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type ChangeEvent, ChangeEventSchema } from '../intake/change-event.js';
import { EVENTS_QUEUE } from './queue-names.js';

export type EventsQueue = Queue<ChangeEvent>;

export function createEventsQueue(connection: Redis, prefix: string): EventsQueue {
  const queue = new Queue<ChangeEvent>(EVENTS_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: 8,
      backoff: { type: 'exponential', delay: 1000 },
      // Completed events are kept an hour so a re-delivered (type, id, versionId) is recognised by jobId.
      removeOnComplete: { age: 3600, count: 50_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
  // Connection errors also reject the calls that hit them (and intake answers 503); the event is noise.
  queue.on('error', () => {});
  return queue;
}

/**
 * Durably stores change events (resolves only once Redis has them). Events naming a version get a
 * deterministic jobId, so the same (source, type, id, versionId) delivered twice is stored once.
 */
export async function enqueueChangeEvents(queue: EventsQueue, events: ChangeEvent[]): Promise<Job<ChangeEvent>[]> {
  const jobs = events.map((e) => {
    const data = ChangeEventSchema.parse(e);
    return { name: data.interaction, data, opts: data.versionId ? { jobId: eventJobId(data) } : undefined };
  });
  return jobs.length ? queue.addBulk(jobs) : [];
}

function eventJobId(e: ChangeEvent): string {
  const digest = createHash('sha256').update(`${e.source}|${e.resourceType}|${e.id}|${e.versionId}`).digest('hex');
  return `ev-${digest.slice(0, 40)}`;
}
