import { redisAnswers, startRedisServer } from '../../src/util/local-redis.js';

export interface TestRedis {
  url: string;
  how: 'testcontainers' | 'REDIS_URL' | 'local' | 'redis-server';
  stop(): Promise<void>;
}

/**
 * Real Redis for integration tests, never a mock: a testcontainers Redis when a Docker engine exists,
 * otherwise REDIS_URL, otherwise the local 127.0.0.1:6379, otherwise a private redis-server.
 * Tests isolate themselves with a unique queue prefix, so a shared Redis is safe.
 */
export async function useTestRedis(): Promise<TestRedis> {
  const { getContainerRuntimeClient, GenericContainer } = await import('testcontainers');
  const hasDocker = await getContainerRuntimeClient().then(
    () => true,
    () => false,
  );
  if (hasDocker) {
    const c = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    return {
      url: `redis://${c.getHost()}:${c.getMappedPort(6379)}`,
      how: 'testcontainers',
      stop: async () => {
        await c.stop();
      },
    };
  }
  if (process.env.REDIS_URL && (await redisAnswers(process.env.REDIS_URL))) {
    return { url: process.env.REDIS_URL, how: 'REDIS_URL', stop: async () => {} };
  }
  if (await redisAnswers('redis://127.0.0.1:6379')) {
    return { url: 'redis://127.0.0.1:6379', how: 'local', stop: async () => {} };
  }
  const owned = await startRedisServer();
  return { url: owned.url, how: 'redis-server', stop: owned.stop };
}
