import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireLock, LockBusyError, withLock } from '../../src/writeback/redis-lock.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { deleteKeys } from './harness.js';

describe('Redis lock around a write-back', () => {
  let redis: TestRedis;
  let a: Redis;
  let b: Redis;
  const prefix = `test-wb-lock-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    redis = await useTestRedis();
    a = new Redis(redis.url);
    b = new Redis(redis.url);
  });
  afterAll(async () => {
    await deleteKeys(a, `${prefix}:*`);
    a?.disconnect();
    b?.disconnect();
    await redis?.stop();
  });

  it('When two holders run work under the same key through different connections, Then the work never overlaps', async () => {
    const log: string[] = [];
    const work = (name: string) => async () => {
      log.push(`${name}:start`);
      await a.ping(); // a real round trip inside the critical section
      await b.ping();
      log.push(`${name}:end`);
    };
    await Promise.all([
      withLock(a, `${prefix}:mutex`, work('one'), { pollMs: 5 }),
      withLock(b, `${prefix}:mutex`, work('two'), { pollMs: 5 }),
    ]);
    expect(log).toHaveLength(4);
    expect(log[0].split(':')[0]).toBe(log[1].split(':')[0]); // start and end of one holder are adjacent
    expect(log[2].split(':')[0]).toBe(log[3].split(':')[0]);
    expect(await a.exists(`${prefix}:mutex`)).toBe(0); // released
  });

  it('When a crashed holder left the lock behind, Then a waiter gets it once its TTL expires, and not before', async () => {
    await a.set(`${prefix}:crashed`, 'token-of-a-dead-process', 'PX', 300);
    const started = Date.now();
    const lock = await acquireLock(b, `${prefix}:crashed`, { ttlMs: 1000, waitMs: 5000, pollMs: 20 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250); // Redis expiry has ~1 ms resolution
    expect(await a.get(`${prefix}:crashed`)).not.toBe('token-of-a-dead-process');
    await lock.release();
  });

  it('When a stalled holder whose lock was taken over releases, Then the new holder keeps its lock', async () => {
    const stale = await acquireLock(a, `${prefix}:takeover`, { ttlMs: 60_000 });
    await a.set(`${prefix}:takeover`, 'someone-else', 'PX', 60_000); // as if it had expired and been re-taken
    await stale.release();
    expect(await a.get(`${prefix}:takeover`)).toBe('someone-else');
  });

  it('When the lock stays busy past the wait, Then LockBusyError (retryable) is thrown', async () => {
    await a.set(`${prefix}:busy`, 'held', 'PX', 60_000);
    await expect(acquireLock(b, `${prefix}:busy`, { waitMs: 100, pollMs: 10 })).rejects.toBeInstanceOf(LockBusyError);
  });

  it('When work outlives the TTL, Then renewal keeps the lock held', async () => {
    const lock = await acquireLock(a, `${prefix}:renew`, { ttlMs: 600 });
    await new Promise((r) => setTimeout(r, 1500)); // "work" lasting 2.5 TTLs: the time passing is what is tested
    expect(await a.pttl(`${prefix}:renew`)).toBeGreaterThan(0);
    expect(lock.lost).toBe(false);
    await lock.release();
  });
});
