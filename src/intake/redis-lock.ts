import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../jobs/redis-connection.js';

const RELEASE_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";
/** Pause between attempts to take a held lock (ms). */
const RETRY_MS = 200;

/**
 * Runs `work` while holding a Redis lock (`SET NX PX`), so replicas starting together do not race.
 * Waits for a held lock up to `ttlMs` plus a margin: a holder that died loses the lock when it expires.
 * Released only by its owner (compare-and-delete).
 */
export async function withRedisLock<T>(
  redis: RedisClient,
  key: string,
  ttlMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const token = randomUUID();
  const deadline = Date.now() + ttlMs + 5_000;
  while ((await redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') {
    if (Date.now() > deadline) throw new Error(`lock ${key} still held after ${ttlMs} ms`);
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
  try {
    return await work();
  } finally {
    await redis.eval(RELEASE_LUA, 1, key, token).catch(() => {});
  }
}

/** The key of a named lock under the service's Redis prefix. */
export function redisLockKey(prefix: string, name: string): string {
  return `${prefix}:lock:${name}`;
}
