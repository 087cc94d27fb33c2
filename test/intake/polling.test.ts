import type { Bundle } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntakeQueue, type IntakeQueue } from '../../src/jobs/intake-queue.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import {
  createGoffPatient,
  type Harness,
  hdlObservation,
  outputsFor,
  settle,
  startHarness,
  waitFor,
} from './helpers/harness.js';

/*
 * Polling fallback for EHRs that cannot push (INTAKE_MODE=poll) and reconciliation alongside push: a
 * BullMQ job scheduler per source searches `_lastUpdated=ge{watermark - overlap}&_sort=_lastUpdated`
 * per watched type, every page, and runs what it finds through the event path (deduplicated).
 */
let redis: TestRedis;

beforeAll(async () => {
  redis = await useTestRedis();
});

afterAll(async () => {
  await redis?.stop();
});

/** Completed poll/reconcile runs, oldest first (their return values: patients scheduled, resources seen). */
async function pollRuns(queue: IntakeQueue, kind: 'poll' | 'reconcile') {
  const jobs = await queue.getJobs(['completed'], 0, 10_000);
  return jobs
    .filter((j) => j.data.kind === kind && j.finishedOn)
    .sort((a, b) => a.finishedOn! - b.finishedOn!)
    .map((j) => j.returnvalue as { patientIds: string[]; resourcesSeen: number })
    .filter(Boolean);
}

describe('INTAKE_MODE=poll', () => {
  let h: Harness;
  let queue: IntakeQueue;

  beforeAll(async () => {
    h = await startHarness({
      redisUrl: redis.url,
      name: 'poll',
      // The overlap makes every poll re-read the last 2 s: the version gate must drop those repeats.
      // No NOTIFY_SECRET: a polled source sends no notifications, so a secret for it is a config error.
      env: {
        INTAKE_MODE: 'poll',
        NOTIFY_SECRET: '',
        POLL_INTERVAL_MS: '1000',
        POLL_OVERLAP_MS: '2000',
        COALESCE_WINDOW_MS: '1500',
        // The patient's resources reach us over several polls: waiting the window makes them one
        // assessment, which is what "exactly once" below checks (re-polls schedule nothing new).
        COALESCE_MODE: 'trailing',
      },
    });
    queue = createIntakeQueue(h.service.redis, h.prefix);
  });

  afterAll(async () => {
    await queue?.close();
    await h?.close();
  });

  it('When the source polls, Then one poll scheduler runs every POLL_INTERVAL_MS and no push watchdog', async () => {
    const schedulers = await queue.getJobSchedulers();
    expect(schedulers.map((s) => [s.key, s.every])).toEqual([['poll-ehr', 1000]]);
  });

  it('When a patient and 120 observations appear (no Subscription at all), Then polling pages through them and assesses the patient exactly once', async () => {
    const patient = await createGoffPatient(h.ehr);
    const bulk: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: Array.from({ length: 120 }, (_, i) => ({
        resource: hdlObservation(patient, 30 + (i % 40)),
        request: { method: 'POST', url: 'Observation' },
      })),
    } as Bundle;
    await h.ehr.transaction(bulk);
    await waitFor(async () => (await outputsFor(h.ehr, patient)).risks === 1, 20_000, 'the polled assessment');
    const seenBefore = (await pollRuns(queue, 'poll')).length;
    // Two more polls re-read the overlap window; they must schedule nothing new.
    await waitFor(async () => (await pollRuns(queue, 'poll')).length >= seenBefore + 2, 15_000, 'two more polls');
    await settle(h);
    const runs = (await h.service.assessQueue.getJobs(['completed'], 0, 1000)).filter(
      (j) => j.data.patientId === patient,
    );
    expect(runs).toHaveLength(1);
    expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 1, impressions: 1 });
    const polls = await pollRuns(queue, 'poll');
    expect(Math.max(...polls.map((p) => p.resourcesSeen))).toBeGreaterThan(100); // more than one page of 100
    expect(polls.filter((p) => p.patientIds.includes(patient)).length).toBeGreaterThanOrEqual(1);
    expect(polls.slice(-1)[0].patientIds).toEqual([]); // the latest re-read found only what was done
  });
});

describe('push with INTAKE_RECONCILE=true', () => {
  let h: Harness;
  let queue: IntakeQueue;

  beforeAll(async () => {
    h = await startHarness({
      redisUrl: redis.url,
      name: 'reconcile',
      env: { INTAKE_RECONCILE: 'true', POLL_INTERVAL_MS: '1000', HEARTBEAT_SECONDS: '30', COALESCE_WINDOW_MS: '1500' },
    });
    queue = createIntakeQueue(h.service.redis, h.prefix);
  });

  afterAll(async () => {
    await queue?.close();
    await h?.close();
  });

  it('When push is configured with reconciliation, Then a reconcile scheduler runs beside the heartbeat watchdog', async () => {
    const schedulers = (await queue.getJobSchedulers()).map((s) => [s.key, s.every]).sort();
    expect(schedulers).toEqual([
      ['reconcile-ehr', 1000],
      ['watchdog-ehr', 30_000],
    ]);
  });

  it('When a change is never notified (no Subscription delivered it), Then reconciliation finds and assesses it', async () => {
    const patient = await createGoffPatient(h.ehr);
    await waitFor(async () => (await outputsFor(h.ehr, patient)).risks === 1, 20_000, 'the reconciled assessment');
    // The assessment starts at once (leading edge), so it may be written before the reconcile job
    // that scheduled it is recorded as completed: wait for that record too.
    await waitFor(
      async () => (await pollRuns(queue, 'reconcile')).some((r) => r.patientIds.includes(patient)),
      10_000,
      'the reconcile run that found the patient',
    );
  });
});
