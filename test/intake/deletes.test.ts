import type { Bundle, Observation, RiskAssessment, Subscription } from '@medplum/fhirtypes';
import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../src/intake/change-event.js';
import type { EventOutcome } from '../../src/jobs/process-change-event.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import {
  createGoffPatient,
  type Harness,
  hdlObservation,
  SECRET,
  settle,
  startHarness,
  subscriptionsOf,
  waitFor,
} from './helpers/harness.js';
import { medplumHeaders } from './helpers/notifications.js';

/*
 * Issue 10: "a delete event starts no assessment". A deleted lab value must stop counting: the patient
 * it belonged to is found (from the events seen before, or from the resource's history) and reassessed
 * from a full read of the record (a `_since` refresh of the cached record cannot see a hard delete).
 * Each EHR wire format that reports deletes is exercised over real HTTP against the sandbox EHR.
 */
const HMAC = 'deletes-test-hmac-secret-0123456789';
const TOPIC = 'http://fhir-assess.dev/SubscriptionTopic/patient-data-changed';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

let redis: TestRedis;
let h: Harness;

beforeAll(async () => {
  redis = await useTestRedis();
  // Record cache on (the default): without the full read after a delete, the next record would be a
  // `_since` refresh of the cached one, still holding the deleted Observation.
  h = await startHarness({ redisUrl: redis.url, name: 'deletes', env: { NOTIFY_HMAC_SECRET: HMAC } });
});

afterAll(async () => {
  await h?.close();
  await redis?.stop();
});

const channel = (payload: string | undefined) => ({
  type: 'rest-hook' as const,
  endpoint: h.notifyUrl,
  header: [`Authorization: Bearer ${SECRET}`],
  payload,
});

/** A Subscription on the sandbox, active before the test goes on; removed with the returned function. */
async function subscribe(resource: Subscription): Promise<() => Promise<void>> {
  const sub = await h.ehr.create<Subscription>(resource);
  await waitFor(
    async () => (await subscriptionsOf(h)).find((s) => s.id === sub.id)?.status === 'active',
    10_000,
    'the Subscription to become active',
  );
  return async () => {
    await h.ehr.request('DELETE', `Subscription/${sub.id}`);
    await settle(h);
  };
}

async function deleteResource(type: string, id: string): Promise<void> {
  await h.ehr.request('DELETE', `${type}/${id}`);
}

/** The patient's PCE RiskAssessments, newest run first (not by lastUpdated: superseding updates older ones). */
async function pceRisks(patientId: string): Promise<RiskAssessment[]> {
  const all = await h.ehr.searchAll<RiskAssessment>('RiskAssessment', { subject: `Patient/${patientId}` });
  const ran = (r: RiskAssessment) => Date.parse(r.occurrenceDateTime ?? r.meta?.lastUpdated ?? '');
  return all.filter((r) => r.method?.coding?.some((c) => c.code === 'pce-2013')).sort((a, b) => ran(b) - ran(a));
}

const cites = (r: RiskAssessment | undefined, obsId: string) =>
  !!r?.basis?.some((b) => b.reference === `Observation/${obsId}`);

/** How the events worker handled the delete of `Type/id` (the completed job's return value). */
async function deleteOutcome(type: string, id: string): Promise<EventOutcome | undefined> {
  const jobs = (await h.service.eventsQueue.getJobs(['completed'], 0, 10_000)) as Job<ChangeEvent, EventOutcome>[];
  return jobs.find((j) => j.data.interaction === 'delete' && j.data.resourceType === type && j.data.id === id)
    ?.returnvalue;
}

/** Forgets every resource -> patient entry (as if the create was never seen, or the index expired). */
async function forgetIndex(): Promise<void> {
  const keys = await h.service.redis.keys(`${h.prefix}:patient-of:*`);
  expect(keys.length).toBeGreaterThan(0); // the creates were remembered
  await h.service.redis.del(...keys);
}

/**
 * The shared scenario: a patient assessed with a new HDL value, the value deleted on the EHR, the
 * delete notified. The newest assessment must no longer cite the deleted Observation.
 */
async function assessedThenDeleted(opts: {
  createPatient: () => Promise<string>;
  createObservation: (patientId: string) => Promise<string>;
  notifyDelete: (obsId: string) => Promise<void>;
  beforeDelete?: () => Promise<void>;
}): Promise<{ obsId: string; outcome: EventOutcome | undefined; before: RiskAssessment[]; after: RiskAssessment[] }> {
  const patientId = await opts.createPatient();
  const obsId = await opts.createObservation(patientId);
  await waitFor(async () => cites((await pceRisks(patientId))[0], obsId), 30_000, 'an assessment citing the new HDL');
  await settle(h);
  const before = await pceRisks(patientId);
  await opts.beforeDelete?.();
  await opts.notifyDelete(obsId);
  await settle(h);
  const after = await pceRisks(patientId);
  return { obsId, outcome: await deleteOutcome('Observation', obsId), before, after };
}

describe('R4 Backport, id-only (the sandbox notifies the delete): patient from the events seen before', () => {
  let unsubscribe: () => Promise<void>;
  beforeAll(async () => {
    unsubscribe = await subscribe({
      resourceType: 'Subscription',
      meta: { profile: [`${BACKPORT}/backport-subscription`] },
      status: 'requested',
      reason: 'deletes test',
      criteria: TOPIC,
      channel: {
        ...channel('application/fhir+json'),
        _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: 'id-only' }] },
      },
    } as Subscription);
  });
  afterAll(async () => unsubscribe?.());

  it('When an HDL Observation is deleted, Then the patient is reassessed (index) and the new assessment no longer cites it', async () => {
    const r = await assessedThenDeleted({
      createPatient: () => createGoffPatient(h.ehr),
      createObservation: async (p) => (await h.ehr.create(hdlObservation(p, 30))).id!,
      notifyDelete: (id) => deleteResource('Observation', id),
    });
    expect(r.outcome).toMatchObject({ action: 'assess', patientFrom: 'index' });
    expect(r.after).toHaveLength(r.before.length + 1); // one more assessment: the record changed
    expect(cites(r.before[0], r.obsId)).toBe(true);
    expect(cites(r.after[0], r.obsId)).toBe(false);
  });

  it('When one of our own RiskAssessments is deleted, Then nothing is reassessed', async () => {
    const [patientId] = (await h.service.assessQueue.getJobs(['completed'], 0, 10_000)).map((j) => j.data.patientId);
    const [own] = await pceRisks(patientId);
    const runs = async () => (await h.service.assessQueue.getJobs(['completed', 'failed'], 0, 10_000)).length;
    const before = await runs();
    await deleteResource('RiskAssessment', own.id!);
    await waitFor(() => deleteOutcome('RiskAssessment', own.id!), 10_000, 'the delete event to be processed');
    await settle(h);
    expect(await deleteOutcome('RiskAssessment', own.id!)).toEqual({ action: 'ignored', reason: 'own-output' });
    expect(await runs()).toBe(before);
  });
});

describe('R4 classic DELETE /notify/{type}/{id} (the sandbox notifies the delete): patient from the history', () => {
  let unsubscribe: () => Promise<void>;
  beforeAll(async () => {
    unsubscribe = await subscribe({
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'deletes test',
      criteria: 'Observation?',
      channel: channel('application/fhir+json'),
    });
  });
  afterAll(async () => unsubscribe?.());

  it('When the index does not know the Observation, Then its history names the patient, who is reassessed without it', async () => {
    // The patient's first assessment comes from an Observation notification; the Goff fixture is written
    // in one transaction, so its Observations notify too.
    const r = await assessedThenDeleted({
      createPatient: () => createGoffPatient(h.ehr),
      createObservation: async (p) => (await h.ehr.create(hdlObservation(p, 31))).id!,
      beforeDelete: forgetIndex,
      notifyDelete: (id) => deleteResource('Observation', id),
    });
    expect(r.outcome).toMatchObject({ action: 'assess', patientFrom: 'history' });
    expect(r.after).toHaveLength(r.before.length + 1);
    expect(cites(r.after[0], r.obsId)).toBe(false);
  });
});

describe('Medplum rest-hook ({} with X-Medplum-Deleted-Resource, signed)', () => {
  const post = async (body: string, headers: Record<string, string>) => {
    const res = await fetch(h.notifyUrl, {
      method: 'POST',
      headers: { ...headers, authorization: `Bearer ${SECRET}` },
      body,
    });
    expect(res.status).toBe(200);
  };

  it('When Medplum reports the delete of an Observation it announced before, Then the patient is reassessed without it', async () => {
    const r = await assessedThenDeleted({
      createPatient: () => createGoffPatient(h.ehr), // no Subscription: nothing is announced yet
      createObservation: async (p) => {
        const obs = await h.ehr.create<Observation>(hdlObservation(p, 32) as Observation);
        const body = JSON.stringify(obs);
        await post(
          body,
          medplumHeaders(body, { subscription: 'Subscription/m1', interaction: 'create', secret: HMAC }),
        );
        return obs.id!;
      },
      notifyDelete: async (id) => {
        await deleteResource('Observation', id);
        const body = '{}';
        await post(
          body,
          medplumHeaders(body, {
            subscription: 'Subscription/m1',
            interaction: 'delete',
            deleted: `Observation/${id}`,
            secret: HMAC,
          }),
        );
      },
    });
    expect(r.outcome).toMatchObject({ action: 'assess', patientFrom: 'index' });
    expect(r.after).toHaveLength(r.before.length + 1);
    expect(cites(r.after[0], r.obsId)).toBe(false);
  });

  it('When the deleted resource was never seen and has no history, Then nobody is reassessed', async () => {
    const body = '{}';
    const id = `never-${Date.now()}`;
    await post(
      body,
      medplumHeaders(body, {
        subscription: 'Subscription/m1',
        interaction: 'delete',
        deleted: `Observation/${id}`,
        secret: HMAC,
      }),
    );
    await waitFor(() => deleteOutcome('Observation', id), 10_000, 'the delete event to be processed');
    expect(await deleteOutcome('Observation', id)).toEqual({ action: 'ignored', reason: 'no-patient' });
  });
});

describe('the sandbox keeps a deleted resource history readable (as HAPI and Medplum do)', () => {
  it('When an Observation is created, updated and deleted, Then read is 404 while _history lists the delete and both versions, and vread works', async () => {
    const created = await h.ehr.create<Observation>(hdlObservation('history-check', 40) as Observation);
    const updated = await h.ehr.update<Observation>({ ...created, id: created.id!, status: 'amended' });
    await deleteResource('Observation', created.id!);
    const read = await h.ehr.read('Observation', created.id!).catch((e: { status?: number }) => e);
    expect((read as { status?: number }).status).toBe(404);
    const history = await h.ehr.get<Bundle>(`Observation/${created.id}/_history`);
    expect(history.total).toBe(3);
    const [deletion, second, first] = history.entry!;
    expect(deletion).toMatchObject({ request: { method: 'DELETE', url: `Observation/${created.id}` } });
    expect(deletion.resource).toBeUndefined();
    expect(second.resource?.meta?.versionId).toBe(updated.meta?.versionId);
    expect(first.resource?.meta?.versionId).toBe(created.meta?.versionId);
    expect(first.request?.method).toBe('POST');
    const page = await h.ehr.get<Bundle>(`Observation/${created.id}/_history`, { _count: '1' });
    expect(page.entry).toHaveLength(1);
    const v1 = await h.ehr.get<Observation>(`Observation/${created.id}/_history/${created.meta?.versionId}`);
    expect(v1.status).toBe('final');
  });
});
