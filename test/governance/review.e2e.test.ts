import type { Bundle, ClinicalImpression, Parameters, Patient, Provenance, RiskAssessment } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ageAt, DEMO_AS_OF } from '../../src/cli/demo-data.js';
import { type DemoStack, startDemoStack } from '../../src/cli/demo-stack.js';
import { queryAudit } from '../../src/governance/audit-query.js';
import { verifyChain } from '../../src/governance/audit-verify.js';
import { REVIEW_TAG_SYSTEM } from '../../src/governance/reviews/review-marks.js';
import { type TestDatabase, useTestDatabase } from '../helpers/postgres.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

const API_KEY = 'review-e2e-key-0123456789abcdef';

/**
 * The governance loop end to end: sandbox EHR (with the Subscriptions the service manages) + service
 * (HTTP + workers) + PostgreSQL. Three patients are assessed; a clinician confirms one in the EHR
 * itself, one through `$review`, and rejects the third. None of it starts a new assessment; each
 * decision is written back with a verifier Provenance and appears in the audit trail.
 */
describe('clinician review: in the EHR, through $review, and a rejection', () => {
  let redis: TestRedis;
  let pg: TestDatabase;
  let stack: DemoStack;
  const assessed: { patient: string; impression: ClinicalImpression; risks: RiskAssessment[] }[] = [];

  beforeAll(async () => {
    [redis, pg] = await Promise.all([useTestRedis(), useTestDatabase()]);
    stack = await startDemoStack({
      behave: 'generic',
      redisUrl: redis.url,
      logLevel: 'silent',
      // No reconciliation polls: the start-up catch-up of the freshly loaded data is not what this test is about.
      env: { DATABASE_URL: pg.url, API_KEYS: API_KEY, INTAKE_RECONCILE: 'false' },
    });
    const patients = (await stack.ehr.searchAll<Patient>('Patient', { _count: '200' }))
      .filter((p) => !p.deceasedDateTime && (ageAt(p, DEMO_AS_OF) ?? 0) >= 40 && (ageAt(p, DEMO_AS_OF) ?? 0) <= 79)
      .slice(0, 3);
    for (const p of patients) {
      const r = await api(`/fhir/Patient/${p.id}/$assess`, { method: 'POST' });
      expect(r.status).toBe(200);
      const bundle = (await r.json()) as Bundle;
      const resources = (bundle.entry ?? []).map((e) => e.resource);
      assessed.push({
        patient: `Patient/${p.id}`,
        impression: resources.find((x): x is ClinicalImpression => x?.resourceType === 'ClinicalImpression')!,
        risks: resources.filter((x): x is RiskAssessment => x?.resourceType === 'RiskAssessment'),
      });
    }
    await quiet();
  });

  afterAll(async () => {
    await stack?.service.assessQueue.obliterate({ force: true }).catch(() => {});
    await stack?.service.eventsQueue.obliterate({ force: true }).catch(() => {});
    await stack?.close();
    await pg?.drop();
    await redis?.stop();
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.service.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/fhir+json', ...init.headers },
    });
  /** Until no notification is in flight and no change event waits: what the EHR said has all been processed. */
  const quiet = async () => {
    for (;;) {
      await stack.sandbox.notifier.idle();
      const c = await stack.service.eventsQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (stack.sandbox.notifier.pending() === 0 && Object.values(c).every((n) => n === 0)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const read = <T extends RiskAssessment | ClinicalImpression>(r: T) =>
    stack.sandbox.repo.peek<T>(r.resourceType, r.id!)!;
  const reviewProvenances = (target: string) =>
    ([...stack.sandbox.repo.resourcesOf('Provenance')] as Provenance[]).filter(
      (p) => p.meta?.tag?.[0]?.system === REVIEW_TAG_SYSTEM && p.target?.some((t) => t.reference === target),
    );
  const statuses = (a: (typeof assessed)[number]) => [read(a.impression).status, ...a.risks.map((r) => read(r).status)];

  it('When a clinician confirms in the EHR, one via $review, and rejects a third, Then the outputs are final or entered-in-error with a verifier Provenance, and no new assessment starts', async () => {
    expect(assessed.map((a) => a.risks.length).every((n) => n > 0)).toBe(true);
    const t0 = Date.now();
    const [a, b, c] = assessed;

    // (a) In the EHR: the clinician sets one RiskAssessment final (as a chart would, PUT with the change).
    await stack.ehr.update<RiskAssessment>({ ...read(a.risks[0]), status: 'final' } as RiskAssessment & { id: string });
    // (b) On our API, as Practitioner/dr-b.
    const confirm = await api(`/fhir/RiskAssessment/${b.risks[0].id}/$review`, {
      method: 'POST',
      body: JSON.stringify({
        resourceType: 'Parameters',
        parameter: [
          { name: 'decision', valueCode: 'confirm' },
          { name: 'reviewer', valueReference: { reference: 'Practitioner/dr-b' } },
        ],
      }),
    });
    expect(confirm.status).toBe(200);
    expect(((await confirm.json()) as Parameters).parameter?.[0]).toEqual({ name: 'outcome', valueCode: 'recorded' });
    // (c) A rejection with its reason.
    const reject = await api(
      `/fhir/RiskAssessment/${c.risks[0].id}/$review?decision=reject&reviewer=Practitioner/dr-c&reason=${encodeURIComponent('lipid panel was from another patient')}`,
      { method: 'POST' },
    );
    expect(reject.status).toBe(200);
    await quiet();

    expect(new Set(statuses(a))).toEqual(new Set(['completed', 'final']));
    expect(new Set(statuses(b))).toEqual(new Set(['completed', 'final']));
    expect(new Set(statuses(c))).toEqual(new Set(['entered-in-error']));
    expect(read(c.risks[0]).note?.at(-1)?.text).toMatch(
      /Rejected \(entered in error\) by Practitioner\/dr-c.*lipid panel was from another patient/,
    );
    for (const [x, verifier] of [
      [a, undefined],
      [b, 'Practitioner/dr-b'],
      [c, 'Practitioner/dr-c'],
    ] as const) {
      const [prov] = reviewProvenances(`ClinicalImpression/${x.impression.id}`);
      expect(prov.agent?.[0].type?.coding?.[0].code).toBe('verifier');
      if (verifier) expect(prov.agent?.[0].who?.reference).toBe(verifier);
      expect(prov.target).toHaveLength(x.risks.length + 1);
      expect(reviewProvenances(`ClinicalImpression/${x.impression.id}`)).toHaveLength(1);
    }
    // The model's own Provenance is untouched (one version in its history).
    const modelProvenance = ([...stack.sandbox.repo.resourcesOf('Provenance')] as Provenance[]).find(
      (p) =>
        p.target?.some((t) => t.reference === `ClinicalImpression/${a.impression.id}`) &&
        p.meta?.tag?.[0]?.system !== REVIEW_TAG_SYSTEM,
    );
    const history = await stack.ehr.get<Bundle>(`Provenance/${modelProvenance?.id}/_history`);
    expect(history.entry).toHaveLength(1);

    // None of it started an assessment (every change to our outputs was taken as a review or as our own).
    const jobs = await stack.service.assessQueue.getJobs([
      'completed',
      'waiting',
      'delayed',
      'active',
      'prioritized',
      'failed',
    ]);
    const reviewed = new Set(assessed.map((x) => x.patient.split('/')[1]));
    expect(jobs.filter((j) => j.timestamp >= t0 && reviewed.has(j.data.patientId)).map((j) => j.data.trigger)).toEqual(
      [],
    );
    expect(
      jobs.map((j) => j.data.trigger).filter((t) => /^(RiskAssessment|ClinicalImpression|Provenance)\//.test(t)),
    ).toEqual([]);
    const db = stack.service.db!;
    for (const x of assessed)
      expect(await queryAudit(db, { action: ['inference'], patient: x.patient })).toHaveLength(1);

    const reviews = await queryAudit(db, { action: ['review'] });
    expect(reviews.map((r) => [r.entry.patient, r.entry.detail?.decision, r.entry.detail?.via, r.entry.actor])).toEqual(
      expect.arrayContaining([
        [a.patient, 'confirm', 'ehr', 'unidentified (ehr)'],
        [b.patient, 'confirm', 'api', 'Practitioner/dr-b'],
        [c.patient, 'reject', 'api', 'Practitioner/dr-c'],
      ]),
    );
    expect(reviews).toHaveLength(3);
    // References and codes only: the free-text reason is in the EHR, not the trail.
    expect(JSON.stringify(reviews.map((r) => r.body))).not.toMatch(/another patient/);
    expect((await verifyChain(db)).ok).toBe(true);
  });

  it('When the same $review is repeated, or a rejected assessment is confirmed, Then the repeat changes nothing and the confirmation is refused', async () => {
    const [, b, c] = assessed;
    const body = JSON.stringify({
      resourceType: 'Parameters',
      parameter: [
        { name: 'decision', valueCode: 'confirm' },
        { name: 'reviewer', valueReference: { reference: 'Practitioner/dr-b' } },
      ],
    });
    const versions = [read(b.impression), ...b.risks.map(read)].map((r) => r.meta?.versionId);
    const again = await api(`/fhir/RiskAssessment/${b.risks[0].id}/$review`, { method: 'POST', body });
    expect(((await again.json()) as Parameters).parameter?.[0]).toEqual({
      name: 'outcome',
      valueCode: 'already-recorded',
    });
    expect([read(b.impression), ...b.risks.map(read)].map((r) => r.meta?.versionId)).toEqual(versions);
    const refused = await api(`/fhir/ClinicalImpression/${c.impression.id}/$review`, { method: 'POST', body });
    expect(refused.status).toBe(409);
    expect(await refused.text()).toMatch(/cannot be confirmed/);
    const bad = await api(`/fhir/RiskAssessment/${b.risks[0].id}/$review?decision=maybe&reviewer=Practitioner/x`, {
      method: 'POST',
    });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/decision must be confirm, amend or reject/);
    expect((await queryAudit(stack.service.db!, { action: ['review'] })).length).toBe(3);
  });

  it('When the audit trail is read as FHIR, Then AuditEvents come filtered by patient, entity and date, with the hashed record', async () => {
    const [a, b] = assessed;
    const r = await api(`/fhir/AuditEvent?patient=${a.patient}&date=ge2000-01-01`);
    expect(r.status).toBe(200);
    const bundle = (await r.json()) as Bundle;
    const types = (bundle.entry ?? []).map((e) => (e.resource as { type: { code: string } }).type.code);
    expect(types).toEqual(['inference', 'review']);
    const byEntity = (await (await api(`/fhir/AuditEvent?entity=RiskAssessment/${b.risks[0].id}`)).json()) as Bundle;
    expect(byEntity.entry?.map((e) => (e.resource as { type: { code: string } }).type.code)).toEqual([
      'inference',
      'review',
    ]);
    const future = (await (await api('/fhir/AuditEvent?date=ge2999-01-01')).json()) as Bundle;
    expect(future.entry).toEqual([]);
    // The three reviewed patients' results no longer await review; /metrics counts what does.
    const awaiting = (await (await api('/fhir/RiskAssessment?status=preliminary&_count=200')).json()) as Bundle;
    const waitingFor = new Set(awaiting.entry?.map((e) => (e.resource as RiskAssessment).subject?.reference));
    expect(assessed.filter((x) => waitingFor.has(x.patient))).toEqual([]);
    const metrics = await (await api('/metrics')).text();
    expect(metrics).toMatch(/fhir_assess_awaiting_review\{source="ehr"\} \d+/);
    expect(metrics).toMatch(/fhir_assess_reviews_total\{decision="reject",via="api"\} 1/);
  });

  it('When a clinician overrides a CDS Hooks card, Then the feedback becomes a review record of the assessment it showed, once', async () => {
    const [, b] = assessed;
    const hook = await api('/cds-services/fhir-assess-risk', {
      method: 'POST',
      body: JSON.stringify({
        hook: 'patient-view',
        hookInstance: 'e2e-1',
        context: { userId: 'Practitioner/dr-v', patientId: b.patient.split('/')[1] },
      }),
    });
    expect(hook.status).toBe(200);
    const { cards } = (await hook.json()) as { cards: { uuid: string; links: { url: string }[] }[] };
    const card = cards.find((c) => c.links[0].url.endsWith(`/RiskAssessment/${b.risks[0].id}`));
    expect(card).toBeDefined();
    const feedback = JSON.stringify({
      feedback: [
        {
          card: card?.uuid,
          outcome: 'overridden',
          overrideReason: { reason: { code: 'not-relevant', system: 'http://example.org/override' } },
          outcomeTimestamp: '2025-01-02T03:04:05Z',
        },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const r = await api('/cds-services/fhir-assess-risk/feedback', { method: 'POST', body: feedback });
      expect(r.status).toBe(200);
    }
    const cds = (await queryAudit(stack.service.db!, { action: ['review'] })).filter(
      (r) => r.entry.detail?.via === 'cds-hooks',
    );
    expect(cds).toHaveLength(1);
    expect(cds[0].entry).toMatchObject({
      patient: b.patient,
      actor: 'Practitioner/dr-v',
      written: [`RiskAssessment/${b.risks[0].id}`],
      model: `${stack.service.registered[0].model.id}@${stack.service.registered[0].model.version}`,
      detail: { decision: 'cds-overridden', reasonCode: 'not-relevant' },
    });
  });
});
