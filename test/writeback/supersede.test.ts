import type { ClinicalImpression, Provenance, Resource, RiskAssessment } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import type { EhrQuirks } from '../../src/sandbox/ehr-quirks.js';
import { ASSESSMENT_ID_SYSTEM } from '../../src/writeback/ai-transparency.js';
import { SUPERSEDE_TAG_SYSTEM, SUPERSEDED_TAG } from '../../src/writeback/supersede-plan.js';
import { type WriteBackInput, writeBack } from '../../src/writeback/write-back.js';
import { assessGoff, cloneGoffPatient, type Harness, seedGoffPatient, startHarness, storedFor } from './harness.js';

/**
 * Superseding through the real write-back against the sandbox: after a newer assessment, the
 * model's older preliminary results are withdrawn, so exactly one current result per model remains;
 * clinician-confirmed and foreign resources are never touched; replays and racing workers converge.
 */
describe.each<[string, EhrQuirks]>([
  ['transactions', {}],
  ['Medplum empty replies', { minimalReply: 'empty' }],
  ['no transactions, empty replies', { rejectTransactions: true, minimalReply: 'empty' }],
])('superseding (%s)', (name, quirks) => {
  let h: Harness;
  let goff: string;

  beforeAll(async () => {
    h = await startHarness(`supersede-${name.replace(/\W+/g, '-')}`, quirks);
    goff = await seedGoffPatient(h.sandbox);
  });
  afterAll(async () => h?.close());

  /** A fresh patient per test: each test's chart starts empty. */
  const patient = () => cloneGoffPatient(h.sandbox, goff);
  const ours = <T extends Resource>(type: string, patientId: string) =>
    [...h.sandbox.repo.resourcesOf(type)].filter(
      (r) =>
        (r as { subject?: { reference?: string } }).subject?.reference === `Patient/${patientId}` &&
        JSON.stringify(r).includes(ASSESSMENT_ID_SYSTEM),
    ) as T[];
  const current = (patientId: string) => ({
    risks: ours<RiskAssessment>('RiskAssessment', patientId).filter((r) => r.status === 'preliminary'),
    impressions: ours<ClinicalImpression>('ClinicalImpression', patientId).filter((c) => c.status === 'in-progress'),
  });
  const stored = <T extends Resource>(ref: string) => {
    const [type, id] = ref.split('/');
    return h.sandbox.repo.peek<T>(type, id) as T;
  };
  const write = async (patientId: string, variant: string, over: Partial<WriteBackInput> = {}) => {
    const { input } = await assessGoff(h.client, patientId, variant);
    return { input, result: await writeBack(h.client, { ...input, ...over }, h.deps()) };
  };

  it('When a newer assessment is written, Then the older RiskAssessment is cancelled and its impression completed, both naming the replacement, and one current result remains', async () => {
    const p = await patient();
    const first = await write(p, 'one');
    const [, , oldRa, oldCi, oldProv] = first.result.written;
    const modelProvenance = structuredClone(stored<Provenance>(oldProv));
    const oldPrediction = structuredClone(stored<RiskAssessment>(oldRa).prediction);
    const second = await write(p, 'two');
    const [, serviceDevice, newRa, newCi] = second.result.written;
    expect(second.result.superseded.sort()).toEqual([oldCi, oldRa].sort());

    const ra = stored<RiskAssessment>(oldRa);
    expect(ra.status).toBe('cancelled');
    expect(ra.meta?.tag).toContainEqual(SUPERSEDED_TAG);
    expect(ra.note?.at(-1)?.text).toContain(`Superseded by ${newRa}`);
    expect(ra.prediction).toEqual(oldPrediction); // the result itself is kept
    const ci = stored<ClinicalImpression>(oldCi);
    expect(ci.status).toBe('completed');
    expect(ci.meta?.tag).toContainEqual(SUPERSEDED_TAG);
    expect(ci.note?.at(-1)?.text).toContain(`Superseded by ${newCi}`);
    expect(stored<ClinicalImpression>(newCi).previous).toEqual({ reference: oldCi });

    const now = current(p);
    expect(now.risks.map((r) => `RiskAssessment/${r.id}`)).toEqual([newRa]);
    expect(now.impressions.map((c) => `ClinicalImpression/${c.id}`)).toEqual([newCi]);

    // The model's Provenance is untouched; the status change has its own (activity UPDATE, by this service).
    expect(stored<Provenance>(oldProv)).toEqual(modelProvenance);
    const updates = [...h.sandbox.repo.resourcesOf('Provenance')].filter((r) =>
      r.meta?.tag?.some((t) => t.system === SUPERSEDE_TAG_SYSTEM),
    ) as Provenance[];
    const mine = updates.filter((u) => u.entity?.[0]?.what?.reference === newCi);
    expect(mine).toHaveLength(1);
    expect(mine[0].activity?.coding?.[0].code).toBe('UPDATE');
    expect(mine[0].target.map((t) => t.reference).sort()).toEqual([oldCi, oldRa].sort());
    expect(mine[0].agent[0].who?.reference).toBe(serviceDevice);
  });

  it('When the newer assessment is replayed, or the superseded one is replayed, Then nothing more changes', async () => {
    const p = await patient();
    const first = await write(p, 'a');
    const second = await write(p, 'b');
    const provenances = h.sandbox.repo.count('Provenance');
    const again = await writeBack(h.client, { ...second.input, now: new Date(Date.now() + 5000) }, h.deps());
    expect(again).toMatchObject({ created: 0, existing: 3, superseded: [] });
    // The stale one (a retry of the first after the second was written) must not withdraw the second.
    const stale = await writeBack(h.client, { ...first.input, now: new Date(Date.now() + 9000) }, h.deps());
    expect(stale).toMatchObject({ created: 0, superseded: [] });
    expect(h.sandbox.repo.count('Provenance')).toBe(provenances);
    expect(current(p).risks.map((r) => `RiskAssessment/${r.id}`)).toEqual([second.result.written[2]]);
  });

  it('When a clinician confirmed the older result, Then it is never touched; an impression a clinician completed keeps its results too', async () => {
    const p = await patient();
    const first = await write(p, 'confirmed');
    const [, , raRef, ciRef] = first.result.written;
    const confirmed = await h.client.update({ ...stored<RiskAssessment>(raRef), status: 'final' } as RiskAssessment & {
      id: string;
    });
    const second = await write(p, 'after-confirmed');
    expect(stored<RiskAssessment>(raRef)).toMatchObject({
      status: 'final',
      meta: { versionId: confirmed.meta?.versionId },
    });
    expect(stored<ClinicalImpression>(ciRef).status).toBe('completed'); // concluded: superseded
    expect(second.result.superseded).toEqual([ciRef]);

    // A clinician completes the second impression, leaving its RiskAssessment preliminary.
    const [, , ra2, ci2] = second.result.written;
    const done = await h.client.update({
      ...stored<ClinicalImpression>(ci2),
      status: 'completed',
    } as ClinicalImpression & {
      id: string;
    });
    const third = await write(p, 'after-completed');
    expect(third.result.superseded).toEqual([]);
    expect(stored<ClinicalImpression>(ci2).meta?.versionId).toBe(done.meta?.versionId);
    expect(stored<RiskAssessment>(ra2).status).toBe('preliminary');
  });

  it('When the chart holds preliminary results not written by us, Then they are left as they are', async () => {
    const p = await patient();
    const foreignRa = await h.client.create<RiskAssessment>({
      resourceType: 'RiskAssessment',
      status: 'preliminary',
      subject: { reference: `Patient/${p}` },
      identifier: [{ system: 'urn:other-vendor', value: 'r1' }],
    });
    const foreignCi = await h.client.create<ClinicalImpression>({
      resourceType: 'ClinicalImpression',
      status: 'in-progress',
      subject: { reference: `Patient/${p}` },
      prognosisReference: [{ reference: `RiskAssessment/${foreignRa.id}` }],
    });
    await write(p, 'x');
    await write(p, 'y');
    expect(stored<RiskAssessment>(`RiskAssessment/${foreignRa.id}`).meta?.versionId).toBe(foreignRa.meta?.versionId);
    expect(stored<ClinicalImpression>(`ClinicalImpression/${foreignCi.id}`).meta?.versionId).toBe(
      foreignCi.meta?.versionId,
    );
  });

  it('When a clinician confirms the older result between our read and our update, Then If-Match makes us re-read and leave it confirmed', async () => {
    const p = await patient();
    const first = await write(p, 'race-a');
    const [, , raRef] = first.result.written;
    const { input } = await assessGoff(h.client, p, 'race-b');
    let confirmedVersion: string | undefined;
    const racing: typeof fetch = async (url, init) => {
      const body = typeof init?.body === 'string' ? init.body : '';
      const isRaUpdate =
        init?.method === 'PUT'
          ? String(url).includes(raRef)
          : init?.method === 'POST' && body.includes('"PUT"') && body.includes(raRef);
      if (isRaUpdate && !confirmedVersion) {
        const now = stored<RiskAssessment>(raRef);
        const saved = await h.client.update({ ...now, status: 'final' } as RiskAssessment & { id: string });
        confirmedVersion = saved.meta?.versionId;
      }
      return fetch(url, init);
    };
    const client = new FhirClient({ baseUrl: h.sandbox.baseUrl, fetch: racing });
    const second = await writeBack(client, input, h.deps());
    expect(confirmedVersion).toBeDefined();
    expect(stored<RiskAssessment>(raRef)).toMatchObject({ status: 'final', meta: { versionId: confirmedVersion } });
    expect(second.superseded).not.toContain(raRef);
    expect(current(p).impressions).toHaveLength(1);
  });

  it('When two workers write two newer assessments of the same patient and model at once, Then exactly one current result remains', async () => {
    const p = await patient();
    await write(p, 'base');
    const inputs = await Promise.all(['w1', 'w2', 'w3'].map(async (v) => (await assessGoff(h.client, p, v)).input));
    const conns = inputs.map(() => new Redis(h.redis.url, { maxRetriesPerRequest: 1 }));
    try {
      await Promise.all(
        inputs.map((input, i) =>
          // Distinct run times (the middle one newest), whatever order the lock lets them write in.
          writeBack(
            new FhirClient({ baseUrl: h.sandbox.baseUrl }),
            { ...input, now: new Date(Date.now() + [1000, 3000, 2000][i]) },
            h.deps({ redis: conns[i] }),
          ),
        ),
      );
    } finally {
      for (const c of conns) c.disconnect();
    }
    const now = current(p);
    expect(now.risks).toHaveLength(1);
    expect(now.impressions).toHaveLength(1);
    expect(ours('RiskAssessment', p)).toHaveLength(4);
    // The one left is the newest run (w2), whichever wrote last.
    const newest = storedFor(h.sandbox, 'ClinicalImpression', inputs[1].key)[0];
    expect(now.impressions[0].id).toBe(newest.id);
    expect(now.risks[0].id).toBe(storedFor(h.sandbox, 'RiskAssessment', inputs[1].key)[0].id);
    for (const ci of ours<ClinicalImpression>('ClinicalImpression', p)) {
      expect(stored<ClinicalImpression>(`ClinicalImpression/${ci.id}`).status).toBe(
        ci.id === newest.id ? 'in-progress' : 'completed',
      );
    }
    const ids = new Set(ours('ClinicalImpression', p).map((c) => c.id));
    expect(storedFor(h.sandbox, 'ClinicalImpression', inputs[0].key)).toHaveLength(1);
    expect(ids.size).toBe(4);
  });
});
