import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections as BullMQ wants them: workers block forever waiting for Redis to come back
 * (`maxRetriesPerRequest: null`); producers fail fast (`enableOfflineQueue: false`) so that intake
 * never answers 2xx for an event it could not store.
 */
export function workerConnection(url: string): Redis {
  return withErrorLog(new Redis(url, { maxRetriesPerRequest: null }));
}

export function producerConnection(url: string, extra: RedisOptions = {}): Redis {
  return withErrorLog(new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, ...extra }));
}

/** An unhandled 'error' event would crash the process; connection errors surface on the calls instead. */
function withErrorLog(r: Redis): Redis {
  r.on('error', () => {});
  return r;
}

/** Waits until a fail-fast connection is ready (it refuses commands until then). */
export async function ready(r: Redis, timeoutMs = 10_000): Promise<void> {
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
