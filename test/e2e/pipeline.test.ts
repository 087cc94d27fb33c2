import { readFileSync } from 'node:fs';
import type {
  Bundle,
  ClinicalImpression,
  Device,
  Observation,
  Provenance,
  RiskAssessment,
  Subscription,
} from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { ensureSubscription } from '../../src/intake/ensure-subscription.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { DEFAULT_PATIENTS_FILE } from '../../src/paths.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningService, startService } from '../../src/service.js';
import { freePort } from '../../src/util/local-redis.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

/**
 * The walking skeleton end to end, as the demo runs it: sandbox EHR -> Subscription -> POST /notify ->
 * events queue -> assess queue -> $everything -> Pooled Cohort Equations -> transaction write-back.
 * Asserts on what is actually in the sandbox afterwards.
 */
const SECRET = 'e2e-secret-0123456789abcdef';
const AIAST = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST' };

describe('end to end: a patient change becomes a written-back RiskAssessment', () => {
  let redis: TestRedis;
  let sandbox: Sandbox;
  let service: RunningService;
  let ehr: FhirClient;
  let notifyUrl: string;
  let goffPatientId: string;

  beforeAll(async () => {
    redis = await useTestRedis();
    sandbox = await startSandbox({ dataFiles: [DEFAULT_PATIENTS_FILE], logger: false });
    const port = await freePort();
    const cfg = loadConfig({
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `e2e-${process.pid}-${Date.now()}`,
      HOST: '127.0.0.1',
      PORT: String(port),
      NOTIFY_SECRET: SECRET,
      AS_OF: '2021-04-01',
      COALESCE_WINDOW_MS: '1500',
      POLL_OVERLAP_MS: '0', // one clock (sandbox and service share it): no skew to cover
      LOG_LEVEL: 'silent',
    });
    service = await startService(cfg, { http: true, workers: true }, createLogger(process.env.E2E_LOG ?? 'silent'), [
      createEmbeddedModel(),
    ]);
    notifyUrl = `${service.url}/notify`;
    ehr = new FhirClient({ baseUrl: sandbox.baseUrl });
  });

  afterAll(async () => {
    await service?.eventsQueue.obliterate({ force: true }).catch(() => {});
    await service?.assessQueue.obliterate({ force: true }).catch(() => {});
    await service?.close();
    await sandbox?.close();
    await redis?.stop();
  });

  /** Waits until the sandbox has delivered everything and both queues are empty. */
  async function settle(): Promise<void> {
    for (let i = 0; i < 300; i++) {
      await sandbox.notifier.idle();
      const counts = await Promise.all(
        [service.eventsQueue, service.assessQueue].map((q) =>
          q.getJobCounts('waiting', 'delayed', 'active', 'prioritized'),
        ),
      );
      if (counts.every((c) => Object.values(c).every((n) => n === 0)) && sandbox.notifier.pending() === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('pipeline did not settle within 30 s');
  }

  const ours = async <T extends RiskAssessment | ClinicalImpression>(
    type: 'RiskAssessment' | 'ClinicalImpression',
    patient: string,
  ) => ehr.searchAll<T>(type, { subject: `Patient/${patient}` });

  it('When the Goff 2013 example patient arrives through a Backport id-only Subscription, Then one preliminary RiskAssessment of 5.38 % is written with its ClinicalImpression and Provenance', async () => {
    const sub = await ensureSubscription(ehr, notifyUrl, SECRET, { kind: 'backport', content: 'id-only' });
    expect(sub.action).toBe('created');
    await sandbox.notifier.idle(); // the handshake is delivered asynchronously
    expect((await ehr.read<Subscription>('Subscription', sub.subscription.id!)).status).toBe('active'); // handshake answered

    // Goff DC Jr et al. 2013 (Circulation 2014;129:S49), white male example: 55 y, TC 213, HDL 50, SBP 120
    // untreated, non-smoker, no diabetes -> 5.38 % at full precision (risk-models.md §1).
    const fixture = JSON.parse(readFileSync('test/fixtures/goff-2013-white-male.bundle.json', 'utf8')) as Bundle;
    const response = await ehr.transaction(fixture);
    const patientId = response.entry![0].response!.location!.split('/')[1];
    goffPatientId = patientId;
    await settle();

    const risks = await ours<RiskAssessment>('RiskAssessment', patientId);
    expect(risks).toHaveLength(1);
    const ra = risks[0];
    expect(ra.status).toBe('preliminary');
    expect(ra.subject.reference).toBe(`Patient/${patientId}`);
    expect(ra.meta?.security).toContainEqual(expect.objectContaining(AIAST));
    expect(ra.prediction![0].probabilityDecimal).toBeCloseTo(0.0538, 4);
    expect(ra.prediction![0].qualitativeRisk?.coding?.[0].code).toBe('moderate'); // borderline band
    expect(ra.basis!.length).toBeGreaterThanOrEqual(3); // TC, HDL, BP observations at least
    for (const b of ra.basis!) expect(b.reference).toMatch(/^(Observation|Patient|Condition|MedicationRequest)\//);

    const impressions = await ours<ClinicalImpression>('ClinicalImpression', patientId);
    expect(impressions).toHaveLength(1);
    expect(impressions[0].status).toBe('in-progress');
    expect(impressions[0].prognosisReference).toEqual([{ reference: `RiskAssessment/${ra.id}` }]);

    const provs = await ehr.searchAll<Provenance>('Provenance', { target: `RiskAssessment/${ra.id}` });
    expect(provs).toHaveLength(1);
    expect(provs[0].target.map((t) => t.reference).sort()).toEqual(
      [`ClinicalImpression/${impressions[0].id}`, `RiskAssessment/${ra.id}`].sort(),
    );
    expect(provs[0].reason?.[0].coding).toContainEqual(expect.objectContaining(AIAST));
    const author = provs[0].agent.find((a) => a.type?.coding?.[0].code === 'author')!;
    expect(author.who?.reference).toBe(ra.performer?.reference);
    const device = await ehr.read<Device>('Device', author.who!.reference!.split('/')[1]);
    expect(device.identifier?.[0].value).toBe('fhir-assess-risk-equations@0.1.0');
  });

  it('When the same notification is delivered again, or the write-back is replayed, Then nothing new is created (and our own write-backs did not trigger us)', async () => {
    const counts = async () =>
      Promise.all(
        ['RiskAssessment', 'ClinicalImpression', 'Provenance', 'Device'].map(
          async (t) => (await ehr.searchAll(t, { _count: '1000' })).length,
        ),
      );
    const before = await counts();
    expect(before[0]).toBe(1); // the Backport subscription covered our RiskAssessment too: it was ignored, not assessed

    const [obs] = await ehr.searchAll<Observation>('Observation', {
      subject: `Patient/${goffPatientId}`,
      code: 'http://loinc.org|2093-3',
    });
    const resend = (body: unknown) =>
      fetch(`${notifyUrl}/Observation/${obs.id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
    expect((await resend(obs)).status).toBe(200);
    await settle();
    expect(await counts()).toEqual(before);

    // Even with the "already assessed" marker gone, the conditional creates find the first copies.
    const markers = await service.redis.keys('e2e-*:last-assessed:*');
    expect(markers.length).toBeGreaterThan(0);
    await service.redis.del(...markers);
    expect((await resend({ ...obs, meta: { versionId: 'replay' } })).status).toBe(200);
    await settle();
    expect(await counts()).toEqual(before);
  });

  it('When an R4 classic Subscription pings with an empty body, Then the service catches up by query and assesses the changed patient', async () => {
    await ensureSubscription(ehr, notifyUrl, SECRET, {
      kind: 'classic',
      criteria: 'Observation?code=http://loinc.org|2085-9',
      payload: 'empty',
    });
    const [patient] = await ehr.searchAll<{ resourceType: 'Patient'; id: string }>('Patient', {
      _id: 'd0368972-8517-4623-907e-920b04f003b6',
    });
    expect(patient).toBeDefined();
    const hdl = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2085-9' }] },
      subject: { reference: `Patient/${patient.id}` },
      effectiveDateTime: '2021-03-31T10:00:00Z',
      valueQuantity: { value: 35, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    } as const;
    await ehr.create(hdl as never);
    await settle();
    const risks = await ours<RiskAssessment>('RiskAssessment', patient.id);
    expect(risks).toHaveLength(1);
    expect(risks[0].basis).toContainEqual(
      expect.objectContaining({ reference: expect.stringMatching(/^Observation\//) }),
    );
    expect(risks[0].prediction![0].probabilityDecimal).toBeGreaterThan(0);
    expect(risks[0].prediction![0].probabilityDecimal).toBeLessThan(1);
    // The ping caught up from the service's start, not the EHR's whole history: only two patients assessed so far.
    expect(await ehr.searchAll('ClinicalImpression', { _count: '1000' })).toHaveLength(2);
  });
});
