import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../jobs/redis-connection.js';

/** Deletes the key only while it still holds our token: never releases a lock someone else took over. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
/** Extends the TTL only while the key still holds our token. */
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export interface LockOptions {
  /** Lock lifetime, ms; renewed every third of it while held, so a crashed holder frees it within this. */
  ttlMs?: number;
  /** How long to wait for a busy lock before giving up (a retryable error), ms. */
  waitMs?: number;
  /** Poll interval while waiting, ms (jittered ±50 %). */
  pollMs?: number;
}

/** Default lock lifetime: 15 s (renewed while held). */
export const DEFAULT_LOCK_TTL_MS = 15_000;
/** Default wait for a busy lock: 60 s, four lifetimes, enough for a crashed holder's lock to expire. */
export const DEFAULT_LOCK_WAIT_MS = 60_000;
const DEFAULT_POLL_MS = 50;

/** The lock was still held by another worker after the wait; the job should be retried later. */
export class LockBusyError extends Error {
  constructor(readonly key: string) {
    super(`write-back lock ${key} still held by another worker; will retry`);
    this.name = 'LockBusyError';
  }
}

/** A held lock: `lost` turns true if renewal found it taken over (expired while we were stalled). */
export interface HeldLock {
  readonly key: string;
  readonly lost: boolean;
  release(): Promise<void>;
}

/**
 * A single-Redis mutex: `SET key token NX PX ttl`, renewed by a compare-and-pexpire script while held
 * and released by compare-and-delete, so a holder that stalled past its TTL can never delete the
 * lock of the worker that took over. Waiters poll with a bounded wait.
 * @returns the held lock; throws {@link LockBusyError} when the wait runs out
 */
export async function acquireLock(redis: RedisClient, key: string, opts: LockOptions = {}): Promise<HeldLock> {
  const ttl = opts.ttlMs ?? DEFAULT_LOCK_TTL_MS;
  const deadline = Date.now() + (opts.waitMs ?? DEFAULT_LOCK_WAIT_MS);
  const token = randomBytes(16).toString('hex');
  const poll = opts.pollMs ?? DEFAULT_POLL_MS;
  while ((await redis.set(key, token, 'PX', ttl, 'NX')) !== 'OK') {
    if (Date.now() >= deadline) throw new LockBusyError(key);
    await new Promise((r) => setTimeout(r, poll * (0.5 + Math.random())));
  }
  let lost = false;
  const renew = setInterval(() => {
    redis.eval(EXTEND, 1, key, token, String(ttl)).then(
      (ok) => {
        if (ok !== 1) lost = true;
      },
      () => {}, // a transient Redis error: the next tick tries again; the TTL still bounds the lock
    );
  }, ttl / 3);
  renew.unref();
  return {
    key,
    get lost() {
      return lost;
    },
    release: async () => {
      clearInterval(renew);
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}

/** Runs `work` while holding the lock; always releases it (a crash leaves it to expire by TTL). */
export async function withLock<T>(
  redis: RedisClient,
  key: string,
  work: () => Promise<T>,
  opts?: LockOptions,
): Promise<T> {
  const lock = await acquireLock(redis, key, opts);
  try {
    return await work();
  } finally {
    await lock.release().catch(() => {}); // unreleased: it expires after ttlMs
  }
}
