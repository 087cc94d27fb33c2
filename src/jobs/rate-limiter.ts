import type { RedisClient } from './redis-connection.js';

/**
 * Token bucket in one Redis hash, shared by every worker process. Refills at `rate` tokens/s up to
 * `burst`; a `cooldown` deadline (set after the upstream answered 429) blocks the bucket entirely.
 * Time is Redis's own clock (TIME), so workers on hosts with skewed clocks agree. Rate 0 = unlimited
 * (only a cool-down blocks).
 * Returns 0 when a token was taken, else the milliseconds to wait before trying again.
 */
const TAKE_SCRIPT = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'cooldown')
local cooldown = tonumber(b[3]) or 0
if now < cooldown then return cooldown - now end
if rate <= 0 then return 0 end
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 60000)
return wait
`;

const COOLDOWN_SCRIPT = `
redis.replicate_commands()
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local until_ms = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'cooldown')) or 0
if until_ms > cur then redis.call('HSET', KEYS[1], 'cooldown', until_ms) end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 60000)
return until_ms - now
`;

/** A bucket's settings: `rate` tokens per second (0 = unlimited) and a burst capacity in tokens. */
export interface BucketLimit {
  rate: number;
  burst: number;
}

/** Distributed rate limits keyed by name (`ehr:{source}`, `model:{id}`), see docs/operations.md. */
export class RateLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
  ) {}

  /**
   * Takes one token: 0 when granted, else ms until the next one (nothing is taken then). With rate 0
   * (unlimited) only a cool-down blocks.
   */
  async take(name: string, limit: BucketLimit): Promise<number> {
    const wait = await this.redis.eval(TAKE_SCRIPT, 1, this.key(name), limit.rate, Math.max(1, limit.burst));
    return Number(wait);
  }

  /**
   * Waits (in this process) until a token is granted or `maxWaitMs` passes.
   * @returns true when a token was taken
   */
  async acquire(name: string, limit: BucketLimit, maxWaitMs: number): Promise<boolean> {
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const wait = await this.take(name, limit);
      if (wait === 0) return true;
      if (Date.now() + wait > deadline) return false;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /** Blocks the bucket for `ms` (after the upstream said 429 / Retry-After); never shortens a block. */
  async coolDown(name: string, ms: number): Promise<void> {
    await this.redis.eval(COOLDOWN_SCRIPT, 1, this.key(name), Math.max(1, Math.round(ms)));
  }

  private key(name: string): string {
    return `${this.keyPrefix}:ratelimit:${name}`;
  }
}
