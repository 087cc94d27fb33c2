import { randomBytes } from 'node:crypto';
import { RedisScript } from '../intake/redis-script.js';
import type { RedisClient } from './redis-connection.js';

/*
 * "Read this patient's record in full next time": set when a resource of the patient was deleted,
 * because a hard delete is invisible to the `_since` refresh the record cache would otherwise do.
 * In Redis, not in the job: the assessment may be coalesced into a job enqueued before the delete (whose
 * data is kept), and it may run in another worker process than the one holding the cached record.
 * The marker carries a random token; the assessment clears it only when it still holds that token, so
 * a delete arriving while a full read is in flight is not lost.
 */

const MIN_TTL_S = 24 * 3600;

function markerKey(prefix: string, source: string, patientId: string): string {
  return `${prefix}:full-read:${source}:${patientId}`;
}

/**
 * Asks for a full read of the patient's next record.
 * @param cacheTtlMs - the source's record cache lifetime: the marker must outlive any cached record
 */
export async function requireFullRead(
  redis: RedisClient,
  prefix: string,
  source: string,
  patientId: string,
  cacheTtlMs = 0,
): Promise<void> {
  const ttlS = Math.max(MIN_TTL_S, Math.ceil(cacheTtlMs / 1000));
  await redis.set(markerKey(prefix, source, patientId), randomBytes(8).toString('hex'), 'EX', ttlS);
}

/** The pending marker's token, when the next record read must be a full read. */
export async function pendingFullRead(
  redis: RedisClient,
  prefix: string,
  source: string,
  patientId: string,
): Promise<string | undefined> {
  return (await redis.get(markerKey(prefix, source, patientId))) ?? undefined;
}

const CLEAR_IF_SAME = new RedisScript(
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
);

/** Clears the marker after a full read, unless a newer delete replaced it meanwhile. */
export async function fullReadDone(
  redis: RedisClient,
  prefix: string,
  source: string,
  patientId: string,
  token: string,
): Promise<void> {
  await CLEAR_IF_SAME.run(redis, [markerKey(prefix, source, patientId)], [token]);
}
