import { rmSync } from 'node:fs';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { type RunningService, startService } from '../../src/service.js';
import { type OwnedRedis, redisAnswers, startRedisServer } from '../../src/util/local-redis.js';
import { createLogger } from '../../src/util/logger.js';
import {
  createGoffPatient,
  type Harness,
  outputsFor,
  SECRET,
  settle,
  startHarness,
  waitFor,
} from './helpers/harness.js';

/*
 * Invariant 1 across a Redis crash: notifications acknowledged (2xx) before Redis is SIGKILLed survive
 * its restart (same port and directory, AOF with fsync always) and are then processed into exactly one
 * assessment each. While Redis is down, intake answers 503 (never a 2xx for an event it cannot store).
 */
const PATIENTS = 5;

let redis: OwnedRedis;
let h: Harness;
let workers: RunningService | undefined;
let dir: string;
let port: number;

beforeAll(async () => {
  redis = await startRedisServer({ appendOnly: true });
  ({ dir, port } = redis);
  h = await startHarness({ redisUrl: redis.url, name: 'restart', roles: { http: true, workers: false } });
});

afterAll(async () => {
  await workers?.close();
  await h?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// If a failing run skips its clean-up, still stop the test-owned Redis.
process.once('exit', () => redis?.process.kill('SIGKILL'));

async function notify(obs: Resource): Promise<number> {
  const res = await fetch(`${h.notifyUrl}/Observation/${obs.id}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
    body: JSON.stringify(obs),
  });
  return res.status;
}

const firstObservation = async (patient: string) =>
  (await h.ehr.searchAll<Resource>('Observation', { subject: `Patient/${patient}`, _count: '1' }))[0];

describe('Redis killed and restarted', () => {
  it('When Redis dies after acknowledging events, Then after its restart every one of them is assessed exactly once', async () => {
    const patients: string[] = [];
    for (let i = 0; i < PATIENTS; i++) patients.push(await createGoffPatient(h.ehr));
    for (const p of patients.slice(0, -1)) expect(await notify(await firstObservation(p))).toBe(200);

    redis.process.kill('SIGKILL');
    await waitFor(async () => !(await redisAnswers(redis.url, 200)), 10_000, 'Redis to be gone');
    const last = patients.at(-1)!;
    expect(await notify(await firstObservation(last))).toBe(503); // not stored, so not acknowledged

    redis = await startRedisServer({ appendOnly: true, port, dir }); // replays the AOF
    // The intake's connection comes back by itself; the EHR's retry of the refused one now succeeds.
    await waitFor(async () => (await notify(await firstObservation(last))) === 200, 15_000, 'intake to accept again');

    const cfg = loadConfig(harnessEnv());
    workers = await startService(cfg, { http: false, workers: true }, createLogger('silent'), [createEmbeddedModel()]);
    await waitFor(
      async () => (await h.service.assessQueue.getJobCounts('completed')).completed >= PATIENTS,
      30_000,
      'every assessment',
    );
    await settle({ sandbox: h.sandbox, service: workers });
    expect((await h.service.assessQueue.getJobCounts('completed')).completed).toBe(PATIENTS);
    for (const p of patients) expect(await outputsFor(h.ehr, p)).toEqual({ risks: 1, impressions: 1 });
  });
});

/** The harness's settings, for a worker process of the same deployment. */
function harnessEnv(): Record<string, string> {
  return {
    FHIR_BASE_URL: h.sandbox.baseUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: h.prefix,
    AS_OF: '2021-04-01',
    COALESCE_WINDOW_MS: '300',
    POLL_OVERLAP_MS: '0',
    LOG_LEVEL: 'silent',
  };
}
