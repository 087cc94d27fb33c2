import type { RedisClient } from '../jobs/redis-connection.js';
import { RedisScript } from './redis-script.js';

/*
 * Which patient a resource belongs to, remembered from the events resolved before, so that a later
 * delete (whose resource can no longer be read) still finds the patient to reassess. Ids only, no PHI.
 *
 * Bounded in time and size: one Redis hash per day and source (`{prefix}:patient-of:{source}:{day}`),
 * kept for BUCKETS days, each holding at most MAX_PER_BUCKET resources (the rest is not remembered,
 * and a delete of those falls back to reading the resource's history). Worst case (BUCKETS + 1) x
 * MAX_PER_BUCKET = 400,000 entries per source; measured ~150 bytes each with UUID ids (Redis 7.0
 * `MEMORY USAGE`), so at most ~60 MB per source, usually far less.
 */

/** Days a resource's patient is remembered after the resource last changed. */
export const BUCKETS = 7;
/** Most resources remembered per source and day. */
export const MAX_PER_BUCKET = 50_000;
const DAY_MS = 24 * 3600 * 1000;

/* KEYS[1]: today's hash. ARGV: field, patient id, cap, ttl (s). Overwrites are always allowed. */
const REMEMBER_LUA = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
  return 1
end
return 0
`;
const remember = new RedisScript(REMEMBER_LUA);

function bucketKey(prefix: string, source: string, day: number): string {
  return `${prefix}:patient-of:${source}:${day}`;
}

/** Test hooks: the clock (ms since epoch) and the per-day bound. */
export interface IndexOptions {
  now?: number;
  maxPerBucket?: number;
}

/** Remembers `resourceType/id` -> patient (one EVALSHA). Returns false when today's bucket is full. */
export async function rememberPatientOf(
  redis: RedisClient,
  prefix: string,
  source: string,
  resource: { resourceType: string; id: string },
  patientId: string,
  { now = Date.now(), maxPerBucket = MAX_PER_BUCKET }: IndexOptions = {},
): Promise<boolean> {
  const day = Math.floor(now / DAY_MS);
  // A bucket lives until BUCKETS days after its own day ends.
  const ttlS = Math.ceil(((day + 1 + BUCKETS) * DAY_MS - now) / 1000);
  const key = bucketKey(prefix, source, day);
  const field = `${resource.resourceType}/${resource.id}`;
  return (await remember.run<number>(redis, [key], [field, patientId, maxPerBucket, ttlS])) === 1;
}

/** The patient remembered for `resourceType/id`, newest day first; undefined when unknown. */
export async function patientOfResource(
  redis: RedisClient,
  prefix: string,
  source: string,
  resource: { resourceType: string; id: string },
  { now = Date.now() }: Pick<IndexOptions, 'now'> = {},
): Promise<string | undefined> {
  const day = Math.floor(now / DAY_MS);
  const field = `${resource.resourceType}/${resource.id}`;
  const pipeline = redis.pipeline();
  for (let d = day; d > day - BUCKETS - 1; d--) pipeline.hget(bucketKey(prefix, source, d), field);
  const answers = (await pipeline.exec()) ?? [];
  for (const [err, value] of answers) {
    if (err) throw err;
    if (typeof value === 'string') return value;
  }
  return undefined;
}
