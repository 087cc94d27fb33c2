import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { parseRedisTarget } from '../config/redis-target.js';

/** One Redis or a Redis Cluster: the commands we use behave the same on both. */
export type RedisClient = Redis | Cluster;

/**
 * Redis connections as BullMQ wants them: workers block forever waiting for Redis to come back
 * (`maxRetriesPerRequest: null`); producers fail fast (`enableOfflineQueue: false`) so that intake
 * never answers 2xx for an event it could not store. `url` may name a cluster (`redis+cluster://`).
 */
export function workerConnection(url: string): RedisClient {
  return withErrorLog(connectRedis(url, { maxRetriesPerRequest: null }));
}

export function producerConnection(url: string, extra: RedisOptions = {}): RedisClient {
  return withErrorLog(connectRedis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, ...extra }));
}

/**
 * A client for REDIS_URL: `new Redis(url)`, or for a cluster URL an ioredis `Cluster` over the seed
 * nodes, every node connection with the same options (credentials and TLS from the URL).
 */
export function connectRedis(url: string, options: RedisOptions = {}): RedisClient {
  const target = parseRedisTarget(url);
  if (target.kind === 'single') return new Redis(url, options);
  const clusterOptions: ClusterOptions = {
    redisOptions: {
      ...options,
      username: target.username,
      password: target.password,
      ...(target.tls ? { tls: {} } : {}),
    },
    enableOfflineQueue: options.enableOfflineQueue ?? true,
    // Managed TLS clusters announce IPs their certificates do not name: connect by the given names.
    ...(target.tls
      ? { dnsLookup: (address: string, done: (err: null, a: string) => void) => done(null, address) }
      : {}),
  };
  return new Cluster(target.nodes, clusterOptions);
}

/** An unhandled 'error' event would crash the process; connection errors surface on the calls instead. */
function withErrorLog<R extends RedisClient>(r: R): R {
  r.on('error', () => {});
  return r;
}

/** Waits until a fail-fast connection is ready (it refuses commands until then). */
export async function ready(r: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (r.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`Redis not ready after ${timeoutMs} ms: is it running at the configured REDIS_URL?`)),
      timeoutMs,
    );
    r.once('ready', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
