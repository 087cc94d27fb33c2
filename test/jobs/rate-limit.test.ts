import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueAssessment } from '../../src/jobs/assess-queue.js';
import { RateLimiter } from '../../src/jobs/rate-limiter.js';
import { poll } from '../api/api-fixture.js';
import { type BackfillFixture, startBackfillFixture } from '../backfill/backfill-fixture.js';
import { type FaultProxy, startFaultProxy } from '../fhir/fault-proxy.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

describe('rate limits: the Redis token bucket', () => {
  let redis: TestRedis;
  let client: Redis;
  const prefix = `t-bucket-${process.pid}-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    redis = await useTestRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    const keys = await client.keys(`${prefix}:*`);
    if (keys.length) await client.del(...keys);
    client.disconnect();
    await redis.stop();
  });

  it('When a bucket of burst 3 at 1/s is drained, Then three tokens are granted at once and the fourth waits under a second', async () => {
    const limiter = new RateLimiter(client, prefix);
    const limit = { rate: 1, burst: 3 };
    const waits = [];
    for (let i = 0; i < 4; i++) waits.push(await limiter.take('ehr:a', limit));
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    expect(waits[3]).toBeGreaterThan(0);
    expect(waits[3]).toBeLessThanOrEqual(1000);
    expect(await limiter.take('ehr:b', limit)).toBe(0); // buckets are independent per source
  });

  it('When a source cools down after a 429, Then even an unlimited bucket blocks for the cool-down, and a shorter one does not shorten it', async () => {
    const limiter = new RateLimiter(client, prefix);
    await limiter.coolDown('ehr:c', 5_000);
    await limiter.coolDown('ehr:c', 10);
    const wait = await limiter.take('ehr:c', { rate: 0, burst: 1 });
    expect(wait).toBeGreaterThan(4_000);
    expect(wait).toBeLessThanOrEqual(5_000);
  });
});

describe('rate limits in the assess worker', () => {
  let f: BackfillFixture;
  let proxy: FaultProxy;
  let everything429 = 0;

  beforeAll(async () => {
    f = await startBackfillFixture('rate-limit', async (base) => {
      // The first four $everything requests answer 429 (the client's own retries use them all up).
      proxy = await startFaultProxy(base, (req) =>
        req.url.includes('$everything') && everything429-- > 0
          ? {
              kind: 'status',
              status: 429,
              headers: { 'retry-after': '1' },
              body: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'throttled' }] },
            }
          : undefined,
      );
      return { FHIR_BASE_URL: proxy.baseUrl, EHR_RATE_LIMIT: '2', EHR_RATE_BURST: '1', ASSESS_CONCURRENCY: '4' };
    });
  });
  afterAll(async () => {
    await f?.close();
    await proxy?.close();
  });

  it('When four assessments are due at once for an EHR limited to 2/s, Then they start about 500 ms apart, waiting in `delayed` without using attempts', async () => {
    const jobs = await Promise.all(
      f.patientIds
        .slice(0, 4)
        .map((patientId) =>
          enqueueAssessment(f.service.assessQueue, { source: 'ehr', patientId, trigger: 'api', priority: 'api' }, 0),
        ),
    );
    const done = await poll(
      async () => {
        const all = await Promise.all(jobs.map((j) => f.service.assessQueue.getJob(String(j.id))));
        return all.every((j) => j?.finishedOn && j.returnvalue) ? all : undefined;
      },
      30_000,
      'the four jobs',
    );
    expect(done.every((j) => j!.attemptsMade === 1 && !j!.failedReason)).toBe(true);
    expect(done.some((j) => j!.attemptsStarted >= 2)).toBe(true); // moved back to delayed by the bucket
    const starts = done.map((j) => j!.processedOn!).sort((a, b) => a - b);
    // Burst 1 at 2/s: three waits of >= 500 ms between four starts (a correctness bound of the limiter).
    expect(starts[3] - starts[0]).toBeGreaterThanOrEqual(3 * 500 - 50);
  });

  it('When the EHR answers 429 beyond the client retries, Then the whole source cools down for Retry-After and the job succeeds on a later attempt', async () => {
    everything429 = 4;
    const job = await enqueueAssessment(
      f.service.assessQueue,
      { source: 'ehr', patientId: f.patientIds[5], trigger: 'api', priority: 'api' },
      0,
    );
    await poll(async () => ((await job.getState()) === 'completed' ? true : undefined), 45_000, 'the throttled job');
    const fresh = await f.service.assessQueue.getJob(String(job.id));
    expect(fresh!.attemptsMade).toBe(2); // attempt 1 failed on the 429s, attempt 2 succeeded
    const cooldown = Number(await f.service.redis.hget(`${f.cfg.QUEUE_PREFIX}:ratelimit:ehr:ehr`, 'cooldown'));
    expect(cooldown).toBeGreaterThan(0); // the source-wide cool-down was set
    expect(proxy.requests.filter((r) => r.url.includes('$everything')).length).toBeGreaterThanOrEqual(5);
  });
});
