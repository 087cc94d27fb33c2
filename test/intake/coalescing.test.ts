import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { type Job, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceSchema } from '../../src/config/sources.js';
import { SourceRegistry } from '../../src/fhir/source-client.js';
import { type AssessJob, type AssessQueue, type CoalesceMode, createAssessQueue } from '../../src/jobs/assess-queue.js';
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
 * Coalescing (src/jobs/assess-queue.ts): in the default `leading` mode the first change of a quiet
 * patient is assessed at once and changes within the window after it give one more assessment, of the
 * newest state, at the window's end; in `trailing` mode every change waits the window, so a burst gives
 * exactly one assessment. Either way changes during a running assessment give exactly one more (BullMQ
 * deduplication with keepLastIfActive).
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

  it('When fifty changes to one patient arrive in a burst, Then one assessment of the newest state is written', async () => {
    const patient = await createGoffPatient(h.ehr); // no Subscription on the sandbox: nothing notifies us yet
    const burst = await createBurst(h, patient);
    expect(await notifyAll(h, burst)).toEqual(Array(BURST).fill(200));
    await settle(h);
    const runs = (await h.service.assessQueue.getJobs(['completed'], 0, 1000)).filter(
      (j) => j.data.patientId === patient,
    );
    // The leading run reads the record with the whole burst in it (the EHR had it before notifying); a
    // trailing run, if the burst outlasted the start of the first, finds the record unchanged.
    const assessed = runs.filter((j) => j.returnvalue.assessments[0].skipped === undefined);
    expect(assessed).toHaveLength(1);
    expect(runs.length).toBeLessThanOrEqual(2);
    expect(assessed[0].returnvalue.assessments[0]).toMatchObject({ created: expect.any(Number) });
    expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 1, impressions: 1 });
  });
});

describe('through the running service, COALESCE_MODE=trailing', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      redisUrl: redis.url,
      name: 'coalesce-trailing',
      env: { COALESCE_WINDOW_MS: '1500', COALESCE_MODE: 'trailing' },
    });
  });

  afterAll(async () => {
    await h?.close();
  });

  it('When fifty changes to one patient arrive in a burst, Then exactly one assessment runs and writes once', async () => {
    const patient = await createGoffPatient(h.ehr);
    const burst = await createBurst(h, patient);
    expect(await notifyAll(h, burst)).toEqual(Array(BURST).fill(200));
    await settle(h);
    const runs = (await h.service.assessQueue.getJobs(['completed'], 0, 1000)).filter(
      (j) => j.data.patientId === patient,
    );
    expect(runs).toHaveLength(1);
    expect(runs[0].returnvalue.assessments[0].skipped).toBeUndefined();
    expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 1, impressions: 1 });
  });
});

/** Changes in one burst. */
const BURST = 50;

/** BURST new HDL results for the patient on the EHR (none notified yet). */
async function createBurst(h: Harness, patient: string): Promise<Resource[]> {
  const burst: Resource[] = [];
  for (let i = 0; i < BURST; i++) burst.push(await h.ehr.create(hdlObservation(patient, 40 + (i % 30))));
  return burst;
}

/** One full-resource notification per resource, all at once; the HTTP statuses. */
function notifyAll(h: Harness, resources: Resource[]): Promise<number[]> {
  return Promise.all(
    resources.map((obs) =>
      fetch(`${h.notifyUrl}/Observation/${obs.id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(obs),
      }).then((r) => r.status),
    ),
  );
}

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

  const deps = (coalesceWindowMs = 200, coalesceMode: CoalesceMode = 'leading') => ({
    sources: new SourceRegistry([SourceSchema.parse({ name: 'ehr', fhirBaseUrl: 'http://127.0.0.1:1/fhir' })]),
    redis: conn,
    assessQueue: queue,
    coalesceWindowMs,
    coalesceMode,
    watchedTypes: ['Observation'],
    pollOverlapMs: 0,
    keyPrefix: prefix,
    logger: createLogger('silent'),
  });

  /** A full-resource change to the patient (no EHR read needed). */
  const change = (patientId: string, n: number, d = deps()) =>
    processChangeEvent(d, {
      source: 'ehr',
      via: 'r4-classic-payload',
      interaction: 'update',
      resourceType: 'Observation',
      id: `o-${n}-${randomUUID().slice(0, 8)}`,
      versionId: '1',
      patientId,
    });

  const pending = () => queue.getJobCounts('waiting', 'delayed', 'prioritized');
  const runsOf = (patient: string) => started.filter((j) => j.patientId === patient);

  it('When a quiet patient changes, Then its assessment is queued without delay, even with a long window', async () => {
    const patient = `p-${randomUUID().slice(0, 8)}`;
    await change(patient, 0, deps(600_000));
    expect((await pending()).delayed).toBe(0);
    await waitFor(() => runsOf(patient).length === 1, 10_000, 'the assessment to start');
    release();
    await waitFor(async () => (await queue.getJobCounts('active')).active === 0, 10_000, 'it to finish');
  });

  it('When fifty changes arrive while the assessment runs, Then exactly one more runs after it, for the newest change', async () => {
    const patient = `p-${randomUUID().slice(0, 8)}`;
    await change(patient, 0);
    await waitFor(() => runsOf(patient).length === 1, 10_000, 'the first assessment to start');
    for (let n = 1; n <= 50; n++) await change(patient, n);
    expect(await pending()).toEqual({ waiting: 0, delayed: 0, prioritized: 0 }); // kept aside until the run ends
    release(); // the first finishes; the kept one runs
    await waitFor(() => runsOf(patient).length === 2, 10_000, 'the follow-up assessment');
    release();
    await waitFor(async () => (await queue.getJobCounts('active')).active === 0, 10_000, 'both to complete');
    expect(runsOf(patient).map((j) => j.trigger)).toEqual([
      expect.stringMatching(/^Observation\/o-0-/),
      expect.stringMatching(/^Observation\/o-50-/),
    ]);
    const idle = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    expect(Object.values(idle).every((n) => n === 0)).toBe(true);
  });

  it('When fifty changes follow a finished assessment within the window, Then they wait for the window and give one assessment', async () => {
    const patient = `p-${randomUUID().slice(0, 8)}`;
    const d = deps(600_000); // a window no test outlasts: the trailing run must be waiting for it
    await change(patient, 0, d);
    await waitFor(() => runsOf(patient).length === 1, 10_000, 'the leading assessment to start');
    release();
    await waitFor(async () => (await queue.getJobCounts('active')).active === 0, 10_000, 'it to finish');
    for (let n = 1; n <= 50; n++) await change(patient, n, d);
    expect(await pending()).toEqual({ waiting: 0, delayed: 1, prioritized: 0 });
    const [trailing] = await queue.getJobs(['delayed']);
    expect(trailing.data.trigger).toMatch(/^Observation\/o-1-/); // joined by the 49 after it: one run, reading the newest record
    await trailing.remove();
  });

  it('When COALESCE_MODE is trailing, Then even the first change of a quiet patient waits the window', async () => {
    const patient = `p-${randomUUID().slice(0, 8)}`;
    await change(patient, 0, deps(600_000, 'trailing'));
    expect(await pending()).toEqual({ waiting: 0, delayed: 1, prioritized: 0 });
    const [delayed] = await queue.getJobs(['delayed']);
    await delayed.remove();
  });
});
