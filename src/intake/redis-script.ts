import { createHash } from 'node:crypto';
import type { RedisClient } from '../jobs/redis-connection.js';

/** A Lua script run by its SHA1 (EVALSHA), loaded on first use: the script body is not resent per call. */
export class RedisScript {
  private readonly sha: string;

  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script atomically; falls back to EVAL once when Redis does not know it yet (NOSCRIPT). */
  async run<T = unknown>(redis: RedisClient, keys: string[], args: (string | number)[]): Promise<T> {
    try {
      return (await redis.evalsha(this.sha, keys.length, ...keys, ...args)) as T;
    } catch (err) {
      if (!String((err as Error).message).includes('NOSCRIPT')) throw err;
      return (await redis.eval(this.lua, keys.length, ...keys, ...args)) as T;
    }
  }
}
