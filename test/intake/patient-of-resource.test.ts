import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUCKETS, patientOfResource, rememberPatientOf } from '../../src/intake/patient-of-resource.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { deletePrefix } from './helpers/harness.js';

/** The resource -> patient index that lets a delete find its patient (real Redis, ids only). */
const DAY = 24 * 3600 * 1000;
const T0 = Date.parse('2025-01-10T12:00:00Z');
const obs = (id: string) => ({ resourceType: 'Observation', id });

let redis: TestRedis;
let conn: Redis;
const prefix = `t-patient-of-${process.pid}-${Date.now()}`;

beforeAll(async () => {
  redis = await useTestRedis();
  conn = new Redis(redis.url);
});
afterAll(async () => {
  await deletePrefix(redis.url, prefix);
  conn?.disconnect();
  await redis?.stop();
});

describe('resource -> patient index', () => {
  it('When a resource was seen, Then its patient is found for BUCKETS days, per source, and a newer patient wins', async () => {
    await rememberPatientOf(conn, prefix, 'ehr', obs('o1'), 'p1', { now: T0 });
    expect(await patientOfResource(conn, prefix, 'ehr', obs('o1'), { now: T0 })).toBe('p1');
    expect(await patientOfResource(conn, prefix, 'ehr', obs('o1'), { now: T0 + BUCKETS * DAY })).toBe('p1');
    expect(await patientOfResource(conn, prefix, 'ehr', obs('o1'), { now: T0 + (BUCKETS + 1) * DAY })).toBeUndefined();
    expect(await patientOfResource(conn, prefix, 'other', obs('o1'), { now: T0 })).toBeUndefined();
    expect(
      await patientOfResource(conn, prefix, 'ehr', { resourceType: 'Condition', id: 'o1' }, { now: T0 }),
    ).toBeUndefined();
    await rememberPatientOf(conn, prefix, 'ehr', obs('o1'), 'p2', { now: T0 + DAY });
    expect(await patientOfResource(conn, prefix, 'ehr', obs('o1'), { now: T0 + DAY })).toBe('p2');
  });

  it('When a day bucket is full, Then new resources are not remembered (bounded), known ones still update, and the bucket expires', async () => {
    const now = T0 + 30 * DAY;
    for (const id of ['a', 'b', 'c'])
      expect(await rememberPatientOf(conn, prefix, 'ehr', obs(id), 'p', { now, maxPerBucket: 3 })).toBe(true);
    expect(await rememberPatientOf(conn, prefix, 'ehr', obs('d'), 'p', { now, maxPerBucket: 3 })).toBe(false);
    expect(await patientOfResource(conn, prefix, 'ehr', obs('d'), { now })).toBeUndefined();
    expect(await rememberPatientOf(conn, prefix, 'ehr', obs('a'), 'q', { now, maxPerBucket: 3 })).toBe(true);
    expect(await patientOfResource(conn, prefix, 'ehr', obs('a'), { now })).toBe('q');
    const [key] = await conn.keys(`${prefix}:patient-of:ehr:${Math.floor(now / DAY)}`);
    const ttl = await conn.ttl(key);
    expect(ttl).toBeGreaterThan(BUCKETS * 24 * 3600); // lives BUCKETS days past its own day...
    expect(ttl).toBeLessThanOrEqual((BUCKETS + 1) * 24 * 3600); // ...and no longer: Redis forgets it by itself
    expect(await conn.hlen(key)).toBe(3);
  });
});
