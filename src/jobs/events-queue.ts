import type { Job, Queue } from 'bullmq';
import type { ChangeEvent } from '../intake/change-event.js';
import { createQueue } from './create-queue.js';
import { EVENTS_QUEUE } from './queue-names.js';
import type { RedisClient } from './redis-connection.js';

export type EventsQueue = Queue<ChangeEvent>;

export function createEventsQueue(connection: RedisClient, prefix: string): EventsQueue {
  return createQueue<ChangeEvent>(EVENTS_QUEUE, connection, prefix, {
    attempts: 8,
    backoff: { type: 'exponential', delay: 1000 },
    // Completed events are kept an hour so a re-delivered (type, id, versionId) is recognised by jobId.
    removeOnComplete: { age: 3600, count: 50_000 },
    removeOnFail: { age: 7 * 24 * 3600 },
  });
}

/**
 * Durably stores change events that intake has already validated (resolves only once Redis has them).
 * Events naming a version get a deterministic jobId, so the same (source, type, id, versionId) delivered
 * twice is stored once; so do Backport events without a version, by (subscription, event number).
 */
export async function addChangeEvents(queue: EventsQueue, events: ChangeEvent[]): Promise<Job<ChangeEvent>[]> {
  if (events.length === 1) {
    // One event (the usual notification): a plain add is one script call, cheaper than a bulk pipeline.
    const [e] = events;
    return [await queue.add(e.interaction, e, jobOptions(e))];
  }
  return events.length
    ? queue.addBulk(events.map((data) => ({ name: data.interaction, data, opts: jobOptions(data) })))
    : [];
}

function jobOptions(e: ChangeEvent): { jobId: string } | undefined {
  if (e.versionId) return { jobId: `ev|${e.source}|${e.resourceType}|${e.id}|${escapeColon(e.versionId)}` };
  if (e.subscription && e.eventNumber !== undefined && e.interaction !== 'ping')
    return { jobId: `ev|${e.source}|${escapeColon(e.subscription)}#${e.eventNumber}` };
  return undefined;
}

/** BullMQ refuses `:` in custom job ids; `%` is escaped first so that the mapping stays one-to-one. */
function escapeColon(s: string): string {
  return s.replaceAll('%', '%25').replaceAll(':', '%3A');
}
