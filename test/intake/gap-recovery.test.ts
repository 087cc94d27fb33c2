import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSourceClient, SourceRegistry } from '../../src/fhir/source-client.js';
import { EventLedger } from '../../src/intake/event-ledger.js';
import { createIntakeQueue, type GapJob, type IntakeJob, type IntakeQueue } from '../../src/jobs/intake-queue.js';
import type { IntakeDeps } from '../../src/jobs/intake-watchdog.js';
import { runWatchdog } from '../../src/jobs/intake-watchdog.js';
import { execIntakeJob } from '../../src/jobs/intake-worker.js';
import type { RecoveryOutcome } from '../../src/jobs/recover-gap.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import {
  assessedWith,
  createGoffPatient,
  type Harness,
  hdlObservation,
  settle,
  startHarness,
  subscriptionsOf,
  waitFor,
} from './helpers/harness.js';

/*
 * Missed events: the sandbox EHR consumes an event number without delivering it
 * (`notifier.skipNextEventNumber`), as a lost notification would. The service must notice (a gap in
 * event numbers, or silence past the heartbeat period) and recover the change it never heard of.
 */
let redis: TestRedis;
let h: Harness;
let intakeQueue: IntakeQueue;
let subscriptionId: string;
let patients: string[];

beforeAll(async () => {
  redis = await useTestRedis();
  h = await startHarness({
    redisUrl: redis.url,
    name: 'gap',
    env: { SUBSCRIBE_ON_START: 'true', HEARTBEAT_SECONDS: '10', GAP_GRACE_MS: '300' },
  });
  intakeQueue = createIntakeQueue(h.service.redis, h.prefix);
  await h.sandbox.notifier.idle(); // the handshake
  const subs = await subscriptionsOf(h);
  expect(subs).toEqual([
    {
      id: expect.any(String),
      criteria: 'http://fhir-assess.dev/SubscriptionTopic/patient-data-changed',
      status: 'active',
    },
  ]);
  subscriptionId = subs[0].id;
  patients = [];
  for (let i = 0; i < 4; i++) patients.push(await createGoffPatient(h.ehr));
  await settle(h);
});

afterAll(async () => {
  await intakeQueue?.close();
  await h?.close();
  await redis?.stop();
});

function deps(sources = h.service.sources): IntakeDeps {
  return {
    sources,
    redis: h.service.redis,
    assessQueue: h.service.assessQueue,
    coalesceWindowMs: h.cfg.COALESCE_WINDOW_MS,
    watchedTypes: createEmbeddedModel().requires.resourceTypes,
    pollOverlapMs: h.cfg.POLL_OVERLAP_MS,
    keyPrefix: h.prefix,
    logger: createLogger('silent'),
    intakeQueue,
    gapGraceMs: h.cfg.GAP_GRACE_MS,
  };
}

async function recoveries(): Promise<Job<IntakeJob, RecoveryOutcome>[]> {
  const jobs = await intakeQueue.getJobs(['completed'], 0, 1000);
  const gaps = jobs.filter((j) => j.data.kind === 'recover-gap' && j.finishedOn) as Job<IntakeJob, RecoveryOutcome>[];
  return gaps.sort((a, b) => a.finishedOn! - b.finishedOn!); // oldest first
}

describe('gap in event numbers', () => {
  it('When one notification is lost and the next arrives, Then after the grace period $events replays it and the patient is assessed', async () => {
    const [lost, seen] = patients;
    const before = (await recoveries()).length;
    h.sandbox.notifier.skipNextEventNumber(subscriptionId);
    const lostObs = await h.ehr.create(hdlObservation(lost, 38));
    const seenObs = await h.ehr.create(hdlObservation(seen, 52));
    await waitFor(async () => (await recoveries()).length > before, 20_000, 'the gap recovery job');
    await settle(h);
    const [job] = (await recoveries()).slice(-1);
    expect(job.returnvalue).toMatchObject({ action: 'recovered', viaSearch: false, patientIds: [lost] });
    const data = job.data as GapJob;
    expect(data).toMatchObject({ kind: 'recover-gap', source: 'ehr', subscriptionId, tracked: true });
    expect(data.until).toBe(data.from); // exactly one event was lost
    expect(job.returnvalue.viaEvents).toEqual([data.from]);
    expect(await assessedWith(h.ehr, lost, lostObs.id!)).toBe(true);
    expect(await assessedWith(h.ehr, seen, seenObs.id!)).toBe(true);
    expect(await new EventLedger(h.service.redis, h.prefix).openGaps('ehr', subscriptionId)).toEqual([]);
  });

  it('When the EHR has no $events (404), Then the gap is recovered by a _lastUpdated search over its time window', async () => {
    const patient = patients[2];
    h.sandbox.notifier.skipNextEventNumber(subscriptionId);
    const ledger = new EventLedger(h.service.redis, h.prefix);
    const { high = 0 } = await ledger.state('ehr', subscriptionId);
    const t0 = Date.now();
    const obs = await h.ehr.create(hdlObservation(patient, 61));
    // An EHR like HAPI: same data, but `$events` is unknown.
    const no$events: typeof fetch = async (input, init) =>
      String(input instanceof Request ? input.url : input).includes('/$events')
        ? new Response(
            JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-supported' }] }),
            {
              status: 404,
              headers: { 'content-type': 'application/fhir+json' },
            },
          )
        : fetch(input, init);
    const sources = new SourceRegistry(h.cfg.sources, (s) => createSourceClient(s, no$events));
    const outcome = (await execIntakeJob(deps(sources), {
      kind: 'recover-gap',
      source: 'ehr',
      subscriptionId,
      from: high + 1,
      until: high + 1,
      fromAt: t0,
      untilAt: Date.now(),
      tracked: false,
    })) as RecoveryOutcome;
    expect(outcome).toEqual({ action: 'recovered', viaEvents: [], viaSearch: true, patientIds: [patient] });
    await settle(h);
    expect(await assessedWith(h.ehr, patient, obs.id!)).toBe(true);
  });
});

describe('missing heartbeats', () => {
  it('When the subscription falls silent past its heartbeat period, Then the watchdog asks $status, finds the missed event and recovers it', async () => {
    const patient = patients[3];
    h.sandbox.notifier.skipNextEventNumber(subscriptionId);
    const obs = await h.ehr.create(hdlObservation(patient, 33));
    // Nothing else is written, so no later event reveals the gap: only the heartbeat watchdog can.
    const quietFor = 25_000; // > heartbeat (10 s) + grace: as if that much time had passed
    const findings = await runWatchdog(deps(), 'ehr', Date.now() + quietFor);
    expect(findings).toEqual([{ subscriptionId, gapsScheduled: 1, checked: 'status', reactivated: false }]);
    await waitFor(() => assessedWith(h.ehr, patient, obs.id!), 20_000, 'the recovered assessment');
    await settle(h);
    // Asked once: a second run within the heartbeat period does not ask again.
    expect(await runWatchdog(deps(), 'ehr', Date.now() + quietFor)).toEqual([{ subscriptionId, gapsScheduled: 0 }]);
  });
});
