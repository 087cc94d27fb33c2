import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { type Job, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceSchema } from '../../src/config/sources.js';
import { SourceRegistry } from '../../src/fhir/source-client.js';
import { type AssessJob, type AssessQueue, createAssessQueue } from '../../src/jobs/assess-queue.js';
import { processChangeEvent } from '../../src/jobs/process-change-event.js';
import { ASSESS_QUEUE } from '../../src/jobs/queue-names.js';
import type { RedisClient } from '../../src/jobs/redis-connection.js';
import { producerConnection, ready, workerConnection } from '../../src/jobs/redis-connection.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import {
  createGoffPatient,
  deletePrefix,
  type Harness,
  hdlObservation,
  outputsFor,
  SECRET,
  settle,
  startHarness,
  waitFor,
} from './helpers/harness.js';

/*
 * Coalescing: changes to one patient inside COALESCE_WINDOW_MS give one assessment of the newest state,
 * and changes during a running assessment give exactly one more (BullMQ deduplication with
 * keepLastIfActive plus the window's delay, src/jobs/assess-queue.ts).
 */
let redis: TestRedis;

beforeAll(async () => {
  redis = await useTestRedis();
});

afterAll(async () => {
  await redis?.stop();
});

describe('through the running service', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ redisUrl: redis.url, name: 'coalesce', env: { COALESCE_WINDOW_MS: '1500' } });
  });

  afterAll(async () => {
    await h?.close();
  });

  it('When ten changes to one patient arrive in a burst, Then exactly one assessment runs and writes once', async () => {
    const patient = await createGoffPatient(h.ehr); // no Subscription on the sandbox: nothing notifies us yet
    const burst: Resource[] = [];
    for (let i = 0; i < 10; i++) burst.push(await h.ehr.create(hdlObservation(patient, 40 + i)));
    const statuses = await Promise.all(
      burst.map((obs) =>
        fetch(`${h.notifyUrl}/Observation/${obs.id}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
          body: JSON.stringify(obs),
        }).then((r) => r.status),
      ),
    );
    expect(statuses).toEqual(Array(10).fill(200));
    await settle(h);
    const runs = (await h.service.assessQueue.getJobs(['completed'], 0, 1000)).filter(
      (j) => j.data.patientId === patient,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0].returnvalue.assessments[0]).toMatchObject({ created: expect.any(Number) });
    expect(runs[0].returnvalue.assessments[0].skipped).toBeUndefined();
    expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 1, impressions: 1 });
  });
});

describe('against a controllable assess worker', () => {
  const prefix = `t-coalesce-worker-${process.pid}-${Date.now()}`;
  let queue: AssessQueue;
  let conn: RedisClient;
  let worker: Worker<AssessJob>;
  const started: AssessJob[] = [];
  let release: () => void = () => {};

  beforeAll(async () => {
    conn = producerConnection(redis.url);
    await ready(conn);
    queue = createAssessQueue(conn, prefix);
    worker = new Worker<AssessJob>(
      ASSESS_QUEUE,
      async (job: Job<AssessJob>) => {
        started.push(job.data);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return { assessments: [] };
      },
      { connection: workerConnection(redis.url), prefix, concurrency: 4 },
    );
  });

  afterAll(async () => {
    release();
    await worker?.close();
    await queue?.obliterate({ force: true });
    await queue?.close();
    await deletePrefix(redis.url, prefix);
    conn?.disconnect();
  });

  const deps = () => ({
    sources: new SourceRegistry([SourceSchema.parse({ name: 'ehr', fhirBaseUrl: 'http://127.0.0.1:1/fhir' })]),
    redis: conn,
    assessQueue: queue,
    coalesceWindowMs: 200,
    watchedTypes: ['Observation'],
    pollOverlapMs: 0,
    keyPrefix: prefix,
    logger: createLogger('silent'),
  });

  /** A full-resource change to the patient (no EHR read needed). */
  const change = (patientId: string, n: number) =>
    processChangeEvent(deps(), {
      source: 'ehr',
      via: 'r4-classic-payload',
      interaction: 'update',
      resourceType: 'Observation',
      id: `o-${n}-${randomUUID().slice(0, 8)}`,
      versionId: '1',
      patientId,
    });

  it('When changes arrive while the assessment runs, Then exactly one more runs after it, for the newest change', async () => {
    const patient = `p-${randomUUID().slice(0, 8)}`;
    await change(patient, 0);
    await waitFor(() => started.length === 1, 10_000, 'the first assessment to start');
    for (let n = 1; n <= 5; n++) await change(patient, n);
    expect(await queue.getJobCounts('waiting', 'delayed', 'prioritized')).toEqual({
      waiting: 0,
      delayed: 0,
      prioritized: 0,
    });
    release(); // the first finishes; the kept one runs
    await waitFor(() => started.length === 2, 10_000, 'the follow-up assessment');
    release();
    await waitFor(async () => (await queue.getJobCounts('completed')).completed === 2, 10_000, 'both to complete');
    expect(started.map((j) => j.trigger)).toEqual([
      expect.stringMatching(/^Observation\/o-0-/),
      expect.stringMatching(/^Observation\/o-5-/),
    ]);
    const idle = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    expect(Object.values(idle).every((n) => n === 0)).toBe(true);
  });
});
