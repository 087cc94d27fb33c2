import type { Logger } from 'pino';
import type { Database } from '../db/database.js';
import { connectRedis, type RedisClient } from '../jobs/redis-connection.js';
import { effectiveMode, getVersion, type LifecycleMode } from './model-registry-store.js';

/** How long a looked-up mode is trusted without a change notice (ms): the bound on staleness if a notice is lost. */
export const MODE_CACHE_TTL_MS = 5_000;

/** The Redis pub/sub channel on which registry changes are announced (payload: `id@version`). */
export const registryChannel = (prefix: string) => `${prefix}:governance:model-registry`;

/** Tells every running worker that a version's mode changed (they drop their cached modes). */
export async function announceChange(redis: Pick<RedisClient, 'publish'>, prefix: string, ref: string): Promise<void> {
  await redis.publish(registryChannel(prefix), ref);
}

/**
 * The mode each model version runs in, as a worker sees it: the registry's (read through a short-lived
 * cache that a Redis pub/sub notice clears at once) over the configured mode. It decides whether a model
 * runs at all; the authoritative check happens again under the write lock (version-gate.ts).
 */
export class ModeResolver {
  private readonly cache = new Map<string, { mode: LifecycleMode; at: number }>();
  private subscriber?: RedisClient;

  constructor(
    private readonly db: Database,
    /** The configured mode of a model id (MODELS_FILE / MODEL_MODE). */
    readonly configured: (modelId: string) => LifecycleMode,
    private readonly ttlMs = MODE_CACHE_TTL_MS,
  ) {}

  /** Subscribes to change notices (its own connection: a subscribed connection can do nothing else). */
  async listen(redisUrl: string, prefix: string, logger: Logger): Promise<void> {
    // REDIS_URL may name a cluster: ioredis' Cluster subscribes through one of its nodes.
    const sub = connectRedis(redisUrl, { maxRetriesPerRequest: null });
    sub.on('error', (err) => logger.warn({ err: err.message }, 'model registry notices: Redis error'));
    sub.on('message', () => this.cache.clear());
    // A reconnect may have missed notices: start afresh.
    sub.on('ready', () => this.cache.clear());
    await sub.subscribe(registryChannel(prefix));
    this.subscriber = sub;
  }

  async modeOf(modelId: string, version: string): Promise<LifecycleMode> {
    const key = `${modelId}@${version}`;
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.mode;
    const mode = effectiveMode(await getVersion(this.db, modelId, version), this.configured(modelId));
    this.cache.set(key, { mode, at: Date.now() });
    return mode;
  }

  invalidate(): void {
    this.cache.clear();
  }

  async close(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
