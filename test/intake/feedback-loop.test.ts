import type { Subscription } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWN_OUTPUT_TYPES } from '../../src/intake/resource-facts.js';
import type { EventOutcome } from '../../src/jobs/process-change-event.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import {
  createGoffPatient,
  type Harness,
  hdlObservation,
  outputsFor,
  SECRET,
  settle,
  startHarness,
  subscriptionsOf,
  waitFor,
} from './helpers/harness.js';

/*
 * Invariant 8 (no feedback loop): the EHR notifies us of everything, our own write-backs included
 * (RiskAssessment, ClinicalImpression, Provenance, Device), through every channel at once: the Backport
 * topic (which covers every patient-compartment type) plus classic catch-all criteria with payload and
 * without. One clinical change must still give exactly one assessment.
 */
const CATCH_ALL = [
  'RiskAssessment',
  'ClinicalImpression',
  'Provenance',
  'Device',
  'Observation',
  'Condition',
  'Patient',
];

let redis: TestRedis;
let h: Harness;

beforeAll(async () => {
  redis = await useTestRedis();
  h = await startHarness({
    redisUrl: redis.url,
    name: 'loop',
    env: { SUBSCRIBE_ON_START: 'true', COALESCE_WINDOW_MS: '800' },
  });
  const channel = (payload?: string): Subscription['channel'] => ({
    type: 'rest-hook',
    endpoint: h.notifyUrl,
    header: [`Authorization: Bearer ${SECRET}`],
    payload,
  });
  for (const type of CATCH_ALL) {
    // Full-resource PUTs and empty pings, both, for every type.
    for (const payload of ['application/fhir+json', undefined]) {
      await h.ehr.create<Subscription>({
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'catch-all',
        criteria: `${type}?`,
        channel: channel(payload),
      });
    }
  }
  await waitFor(
    async () => (await subscriptionsOf(h)).every((s) => s.status === 'active'),
    10_000,
    'all subscriptions active',
  );
  expect(await subscriptionsOf(h)).toHaveLength(CATCH_ALL.length * 2 + 1);
});

afterAll(async () => {
  await h?.close();
  await redis?.stop();
});

async function assessRunsFor(patient: string) {
  const jobs = await h.service.assessQueue.getJobs(['completed', 'failed'], 0, 10_000);
  return jobs.filter((j) => j.data.patientId === patient);
}

describe('no feedback loop under catch-all subscriptions', () => {
  it('When one patient is created, Then one assessment writes once, and the notifications about our write-backs start nothing', async () => {
    const patient = await createGoffPatient(h.ehr);
    await settle(h);
    const runs = await assessRunsFor(patient);
    // The patient's resources arrive as a burst: the leading run assesses them all (the EHR had them
    // before notifying); a trailing run, if the burst outlasted its start, finds the record unchanged.
    const assessed = runs.filter((j) => j.returnvalue.assessments[0].skipped === undefined);
    expect(assessed).toHaveLength(1);
    expect(runs.length).toBeLessThanOrEqual(2);
    expect(runs.filter((j) => OWN_OUTPUT_TYPES.has(j.data.trigger.split('/')[0]))).toEqual([]);
    expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 1, impressions: 1 });

    // The write-backs were announced on every channel and each was recognised as our own.
    const events = await h.service.eventsQueue.getJobs(['completed'], 0, 10_000);
    const ignored = events.filter((j) => (j.returnvalue as EventOutcome)?.action === 'ignored');
    const ownTypes = new Set(
      ignored
        .filter((j) => (j.returnvalue as { reason: string }).reason === 'own-output')
        .map((j) => j.data.resourceType),
    );
    expect([...ownTypes].sort()).toEqual(['ClinicalImpression', 'Device', 'Provenance', 'RiskAssessment']);
  });

  it('When one new observation arrives for that patient, Then exactly one more assessment runs, and the pipeline goes quiet', async () => {
    const [patient] = (await h.service.assessQueue.getJobs(['completed'], 0, 10_000)).map((j) => j.data.patientId);
    const before = new Set((await assessRunsFor(patient)).map((j) => j.id));
    await h.ehr.create(hdlObservation(patient, 41));
    await settle(h);
    const runs = (await assessRunsFor(patient)).filter((j) => !before.has(j.id));
    // The change arrives on two channels at once (its PUT and a ping's catch-up query); both may pass
    // the version gate before either commits, and with the leading edge the second then runs after the
    // first and finds the record unchanged. Exactly one assessment is made, none from our write-backs.
    expect(runs.filter((j) => j.returnvalue.assessments[0].skipped === undefined)).toHaveLength(1);
    expect(runs.length).toBeLessThanOrEqual(2);
    expect(runs.filter((j) => OWN_OUTPUT_TYPES.has(j.data.trigger.split('/')[0]))).toEqual([]);
    expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 2, impressions: 2 }); // new record, new assessment
    // Quiet: nothing waiting, delayed or running anywhere, and the sandbox has nothing left to deliver.
    const counts = await h.service.assessQueue.getJobCounts('waiting', 'delayed', 'active');
    expect(counts).toEqual({ waiting: 0, delayed: 0, active: 0 });
    expect(h.sandbox.notifier.pending()).toBe(0);
  });
});
