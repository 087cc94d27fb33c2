import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { type RunningService, startService } from '../../src/service.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

/* A worker-only process answers Kubernetes probes on HEALTH_PORT (deploy/k8s: the worker Deployment). */
describe('worker health probes (HEALTH_PORT)', () => {
  let redis: TestRedis;
  let service: RunningService;

  beforeAll(async () => {
    redis = await useTestRedis();
    const cfg = loadConfig({
      FHIR_BASE_URL: 'http://127.0.0.1:9/fhir', // never reached: the probes do not ask the EHR
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `t-health-${process.pid}-${Date.now()}`,
      HOST: '127.0.0.1',
      HEALTH_PORT: '0',
      LOG_LEVEL: 'silent',
    });
    service = await startService(cfg, { http: false, workers: true }, createLogger('silent'), []);
  });
  afterAll(async () => {
    await service?.close();
    await redis?.stop();
  });

  it('When a worker runs with HEALTH_PORT, Then /healthz and /readyz answer 200 (Redis reachable) and nothing else is served', async () => {
    expect(service.app).toBeUndefined(); // no HTTP API in this role
    const healthz = await fetch(`${service.url}/healthz`);
    expect(healthz.status).toBe(200);
    const readyz = await fetch(`${service.url}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.json()).toEqual({ status: 'ready', checks: { redis: 'ok' } });
    expect((await fetch(`${service.url}/notify`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${service.url}/metadata`)).status).toBe(404);
  });
});
