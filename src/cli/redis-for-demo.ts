import { existsSync } from 'node:fs';
import { redisAnswers, startRedisServer } from '../util/local-redis.js';

export interface DemoRedis {
  url: string;
  how: string;
  stop(): Promise<void>;
}

/** REDIS_URL, else a Redis on 127.0.0.1:6379, else a private `redis-server`, else a message saying what to install. */
export async function redisForDemo(env = process.env): Promise<DemoRedis> {
  if (env.REDIS_URL) {
    if (await redisAnswers(env.REDIS_URL, 2000)) return { url: env.REDIS_URL, how: 'REDIS_URL', stop: async () => {} };
    throw new Error(
      `REDIS_URL=${env.REDIS_URL} does not answer PING. Start that Redis, or unset REDIS_URL to let the demo find or start one.`,
    );
  }
  if (await redisAnswers('redis://127.0.0.1:6379', 1000))
    return { url: 'redis://127.0.0.1:6379', how: 'local Redis on 127.0.0.1:6379', stop: async () => {} };
  const onPath = (env.PATH ?? '').split(':').some((dir) => existsSync(`${dir}/redis-server`));
  if (!onPath) {
    throw new Error(
      'No Redis found: REDIS_URL is unset, nothing answers on 127.0.0.1:6379, and redis-server is not installed.\n' +
        'Install Redis (Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) or run: docker run -p 6379:6379 redis:7',
    );
  }
  const owned = await startRedisServer();
  return { url: owned.url, how: `private redis-server on port ${owned.port}`, stop: owned.stop };
}
