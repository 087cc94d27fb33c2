import { randomUUID } from 'node:crypto';
import type { Bundle, ClinicalImpression, Observation, Provenance, Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { ensureSubscription } from '../../src/intake/ensure-subscription.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningService, startService } from '../../src/service.js';
import { freePort } from '../../src/util/local-redis.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { settle } from '../intake/helpers/harness.js';

/**
 * End to end with the whole calculator library: a patient whose only lipid panel is seven years old. The
 * record assembly must still read it (it is older than every lookback window) so that the ClinicalImpression
 * written to the sandbox says "stale, last measured <date>" with the value, never "missing".
 */
const SECRET = 'e2e-stale-secret-0123456789';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const PATIENT_URN = `urn:uuid:${randomUUID()}`;

function lab(code: string, value: number, unit: string, date: string): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: LOINC, code }] },
    subject: { reference: PATIENT_URN },
    effectiveDateTime: date,
    valueQuantity: { value, unit, system: UCUM, code: unit },
  };
}

/**
 * 43-year-old man: lipids 2014-03-02 (7 years before as-of 2021-04-01), recent BP, smoking status, and a serum
 * creatinine of 88 µmol/L (LOINC 14682-9) on 2021-03-01, when he was 43 as well.
 */
function patientBundle(): Bundle {
  const entries: Resource[] = [
    { resourceType: 'Patient', gender: 'male', birthDate: '1977-06-15' },
    lab('2093-3', 212, 'mg/dL', '2014-03-02'),
    lab('2085-9', 48, 'mg/dL', '2014-03-02'),
    lab('2093-3', 190, 'mg/dL', '2012-02-01'), // an even older panel: not the one to report
    {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: LOINC, code: '55284-4' }] },
      subject: { reference: PATIENT_URN },
      effectiveDateTime: '2021-03-01',
      component: [
        { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: { value: 132, unit: 'mm[Hg]' } },
        { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: { value: 82, unit: 'mm[Hg]' } },
      ],
    },
    {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: LOINC, code: '72166-2' }] },
      subject: { reference: PATIENT_URN },
      effectiveDateTime: '2021-03-01',
      valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '266919005' }] },
    },
    lab('14682-9', 88, 'umol/L', '2021-03-01'),
    lab('39156-5', 27.5, 'kg/m2', '2021-03-01'),
  ];
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: entries.map((resource, i) => ({
      fullUrl: i === 0 ? PATIENT_URN : `urn:uuid:${randomUUID()}`,
      resource,
      request: { method: 'POST', url: resource.resourceType },
    })),
  };
}

describe('end to end: stale inputs are reported with their date and value; the computed eGFR is written back', () => {
  let redis: TestRedis;
  let sandbox: Sandbox;
  let service: RunningService;
  let ehr: FhirClient;
  let patientId: string;

  beforeAll(async () => {
    redis = await useTestRedis();
    sandbox = await startSandbox({ logger: false });
    const port = await freePort();
    const cfg = loadConfig({
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `e2e-stale-${process.pid}-${Date.now()}`,
      HOST: '127.0.0.1',
      PORT: String(port),
      NOTIFY_SECRET: SECRET,
      AS_OF: '2021-04-01',
      COALESCE_WINDOW_MS: '500',
      POLL_OVERLAP_MS: '0',
      LOG_LEVEL: 'silent',
    });
    service = await startService(cfg, { http: true, workers: true }, createLogger('silent'), [
      createEmbeddedModel({ calculators: 'all' }),
    ]);
    ehr = new FhirClient({ baseUrl: sandbox.baseUrl });
    await ensureSubscription(ehr, `${service.url}/notify`, SECRET, { kind: 'backport', content: 'id-only' });
    await sandbox.notifier.idle();
    const response = await ehr.transaction(patientBundle());
    patientId = response.entry![0].response!.location!.split('/')[1];
    await settle({ sandbox, service });
  });

  afterAll(async () => {
    await service?.eventsQueue.obliterate({ force: true }).catch(() => {});
    await service?.assessQueue.obliterate({ force: true }).catch(() => {});
    await service?.close();
    await sandbox?.close();
    await redis?.stop();
  });

  it('When the lipids are seven years old, Then the ClinicalImpression has "stale" findings with their dates and values', async () => {
    const impressions = await ehr.searchAll<ClinicalImpression>('ClinicalImpression', {
      subject: `Patient/${patientId}`,
    });
    expect(impressions).toHaveLength(1);
    const tc = (
      await ehr.searchAll<Observation>('Observation', { subject: `Patient/${patientId}`, code: `${LOINC}|2093-3` })
    ).find((o) => o.effectiveDateTime === '2014-03-02')!;
    const findings = impressions[0].finding ?? [];
    for (const calculator of ['pce-2013', 'prevent']) {
      const f = findings.find((x) => x.itemCodeableConcept?.text?.startsWith(`${calculator}: Total cholesterol`));
      expect(f, calculator).toMatchObject({
        itemCodeableConcept: { text: `${calculator}: Total cholesterol stale, last measured 2014-03-02` },
        itemReference: { reference: `Observation/${tc.id}` },
        basis: `Total cholesterol last measured 2014-03-02: 212 mg/dL (older than 5 years; Observation/${tc.id})`,
      });
      expect(
        findings.find((x) => x.itemCodeableConcept?.text?.startsWith(`${calculator}: HDL cholesterol`)),
      ).toMatchObject({
        itemCodeableConcept: { text: `${calculator}: HDL cholesterol stale, last measured 2014-03-02` },
      });
    }
    expect(findings.some((x) => /cholesterol missing/i.test(x.itemCodeableConcept?.text ?? ''))).toBe(false);
    expect(impressions[0].summary).toMatch(
      /Pooled Cohort Equations not computed: Total cholesterol stale \(last measured 2014-03-02\), HDL cholesterol stale \(last measured 2014-03-02\)/,
    );
  });

  it('When a creatinine is on record, Then its CKD-EPI 2021 eGFR is written once as a derived, AI-labelled Observation that triggers nothing', async () => {
    const creatinine = (
      await ehr.searchAll<Observation>('Observation', { subject: `Patient/${patientId}`, code: `${LOINC}|14682-9` })
    )[0];
    const written = async () =>
      ehr.searchAll<Observation>('Observation', { subject: `Patient/${patientId}`, code: `${LOINC}|98979-8` });
    const [egfr, ...more] = await written();
    expect(more).toHaveLength(0);
    // preventr tests/testthat/test-helpers.R (risk-models.md §3): male, 43 y, Scr 88 µmol/L → eGFR 96 (96.29).
    expect(egfr.valueQuantity).toMatchObject({ value: 96.3, system: UCUM, code: 'mL/min/{1.73_m2}' });
    expect(egfr).toMatchObject({
      status: 'preliminary',
      effectiveDateTime: '2021-03-01',
      derivedFrom: [{ reference: `Observation/${creatinine.id}` }],
      method: { text: expect.stringMatching(/^CKD-EPI 2021 creatinine equation, race-free/) },
      identifier: [{ system: 'urn:fhir-assess:derived' }],
    });
    expect(egfr.meta?.security).toContainEqual(expect.objectContaining({ code: 'AIAST' }));
    const [prov] = await ehr.searchAll<Provenance>('Provenance', { target: `Observation/${egfr.id}` });
    expect(prov.agent.find((a) => a.type?.coding?.[0].code === 'author')?.who?.reference).toBe(egfr.device?.reference);
    // Its creation was notified like any Observation, and ignored as our own output.
    const events = await service.eventsQueue.getJobs(['completed']);
    const own = events.filter((j) => j.data.resourceType === 'Observation' && j.data.id === egfr.id);
    expect(own.length).toBeGreaterThan(0);
    for (const j of own) expect(j.returnvalue).toMatchObject({ action: 'ignored', reason: 'own-output' });

    // A new blood pressure: a new assessment (another record), and still one eGFR Observation for that creatinine.
    const before = await ehr.searchAll<ClinicalImpression>('ClinicalImpression', { subject: `Patient/${patientId}` });
    const bp = patientBundle().entry![4].resource as Observation;
    await ehr.create({ ...bp, subject: { reference: `Patient/${patientId}` }, effectiveDateTime: '2021-03-20' });
    await settle({ sandbox, service });
    const after = await ehr.searchAll<ClinicalImpression>('ClinicalImpression', { subject: `Patient/${patientId}` });
    expect(after.length).toBe(before.length + 1);
    expect((await written()).map((o) => o.id)).toEqual([egfr.id]);
  });
});
