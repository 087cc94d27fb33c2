import type { Bundle, ClinicalImpression, Observation, OperationOutcome, RiskAssessment } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCards, type CdsCard } from '../../src/api/cds-cards.js';
import { ASSESSMENT_ID_SYSTEM } from '../../src/writeback/ai-transparency.js';
import { SUPERSEDED_TAG } from '../../src/writeback/supersede-plan.js';
import { API_KEY, type ApiFixture, ISSUER, startApiFixture } from './api-fixture.js';

const PUBLIC_URL = 'https://cds.test.example';
const SERVICE = 'fhir-assess-risk';

/** CDS Hooks patient-view over real HTTP: sandbox EHR, real Redis, the real assessment written first. */
describe('CDS Hooks: discovery, patient-view cards, feedback', () => {
  let f: ApiFixture;
  let ehrToken: string;
  const key = { authorization: `Bearer ${API_KEY}` };

  beforeAll(async () => {
    // The EHR signs its hook calls; its JWT names our service URL as audience (standards.md §2e).
    f = await startApiFixture('cds', (idp) => ({ PUBLIC_URL, CDS_JWKS_URL: idp.url, CDS_ISSUER: ISSUER }));
    ehrToken = await f.idp.sign({ sub: 'ehr' }, { audience: `${PUBLIC_URL}/cds-services/${SERVICE}` });
  });
  afterAll(async () => {
    await f?.close();
  });

  const hook = (
    body: unknown,
    headers: Record<string, string> = { authorization: `Bearer ${ehrToken}` },
    path = SERVICE,
  ) =>
    fetch(`${f.service.url}/cds-services/${path}`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const request = (patientId: string, extra: Record<string, unknown> = {}) => ({
    hook: 'patient-view',
    hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
    context: { userId: 'Practitioner/1', patientId },
    ...extra,
  });

  it('When discovery is read, Then it lists the patient-view service with its prefetch templates, without authentication', async () => {
    const r = await fetch(`${f.service.url}/cds-services`);
    expect(r.status).toBe(200);
    const { services } = (await r.json()) as {
      services: { hook: string; id: string; prefetch: Record<string, string> }[];
    };
    expect(services).toHaveLength(1);
    expect(services[0]).toMatchObject({ hook: 'patient-view', id: SERVICE });
    expect(services[0].prefetch.patient).toBe('Patient/{{context.patientId}}');
    expect(services[0].prefetch.riskAssessments).toMatch(
      /^RiskAssessment\?subject=Patient\/\{\{context\.patientId\}\}/,
    );
  });

  it('When the chart of an assessed patient opens, Then one card shows the latest risk: summary under 140 chars, warning for moderate risk, model and version, inputs, link', async () => {
    const before = (await (await hook(request(f.goffPatientId))).json()) as { cards: CdsCard[] };
    expect(before.cards).toEqual([]); // nothing assessed yet: nothing to show (and nothing computed here)
    const assessed = await fetch(`${f.service.url}/fhir/Patient/${f.goffPatientId}/$assess`, {
      method: 'POST',
      headers: key,
    });
    expect(assessed.status).toBe(200);

    const r = await hook(request(f.goffPatientId));
    expect(r.status).toBe(200);
    const { cards } = (await r.json()) as { cards: CdsCard[] };
    expect(cards).toHaveLength(1);
    const card = cards[0];
    expect(card.summary.length).toBeLessThan(140);
    expect(card.summary).toMatch(/5\.4 %/);
    expect(card.summary).toMatch(/AI estimate, preliminary/);
    expect(card.indicator).toBe('warning'); // borderline 5.38 % is qualitativeRisk "moderate"
    expect(card.source.label).toBe('fhir-assess: fhir-assess-risk-equations 0.1.0 (AI)');
    expect(card.detail).toMatch(/\*\*Inputs used\*\*\n- (Patient|Observation)\//);
    expect(card.detail).toMatch(/5\.4 % \(0\.0538\)/); // the rationale, as written back
    expect(card.detail).toMatch(/a clinician must confirm it/);
    const ra = (await f.ehr.searchAll('RiskAssessment', { subject: `Patient/${f.goffPatientId}` }))[0];
    expect(card.links).toEqual([
      { label: 'RiskAssessment in the EHR', url: `${f.sandbox.baseUrl}/RiskAssessment/${ra.id}`, type: 'absolute' },
    ]);
    expect(card.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);

    // With prefetch, the EHR's bundles are used as they are (here: deliberately empty ones).
    const empty: Bundle = { resourceType: 'Bundle', type: 'searchset', entry: [] };
    const prefetched = await hook(
      request(f.goffPatientId, { prefetch: { riskAssessments: empty, impressions: empty } }),
    );
    expect(((await prefetched.json()) as { cards: CdsCard[] }).cards).toEqual([]);
    const real = await f.ehr.get<Bundle>('RiskAssessment', { subject: `Patient/${f.goffPatientId}` });
    const again = await hook(request(f.goffPatientId, { prefetch: { riskAssessments: real, impressions: null } }));
    expect(((await again.json()) as { cards: CdsCard[] }).cards.map((c) => c.uuid)).toEqual([card.uuid]);
  });

  it('When a patient could not be scored, Then an info card says why', async () => {
    const patients = await f.ehr.searchAll<{ resourceType: 'Patient'; id: string; birthDate?: string }>('Patient', {
      _count: '50',
    });
    const young = patients.find((p) => p.birthDate && p.birthDate > '1990-01-01')!; // under 40: outside the PCE
    expect(
      (await fetch(`${f.service.url}/fhir/Patient/${young.id}/$assess`, { method: 'POST', headers: key })).status,
    ).toBe(200);
    const { cards } = (await (await hook(request(young.id))).json()) as { cards: CdsCard[] };
    expect(cards).toHaveLength(1);
    expect(cards[0].indicator).toBe('info');
    expect(cards[0].summary).toMatch(/not computed/);
    expect(cards[0].detail).toMatch(/not applicable|missing/);
  });

  it('When feedback is posted, Then it is recorded in Redis and counted in /metrics', async () => {
    const r = await fetch(`${f.service.url}/cds-services/${SERVICE}/feedback`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ehrToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        feedback: [
          {
            card: '9b1c6a1e-0000-5000-a000-000000000001',
            outcome: 'overridden',
            overrideReason: { reason: { code: 'not-relevant', system: 'http://example.org' } },
            outcomeTimestamp: '2021-04-01T10:00:00Z',
          },
        ],
      }),
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ recorded: 1 });
    const stream = await f.service.redis.xrange(`${f.cfg.QUEUE_PREFIX}:cds-feedback`, '-', '+');
    expect(stream).toHaveLength(1);
    expect(stream[0][1]).toEqual([
      'service',
      SERVICE,
      'card',
      '9b1c6a1e-0000-5000-a000-000000000001',
      'outcome',
      'overridden',
      'reason',
      'not-relevant',
      'at',
      '2021-04-01T10:00:00Z',
    ]);
    const metrics = await (await fetch(`${f.service.url}/metrics`, { headers: key })).text();
    expect(metrics).toContain(`fhir_assess_cds_feedback{service="${SERVICE}",outcome="overridden"} 1`);
  });

  it('When a hook request is invalid or unauthenticated, Then it gets a 4xx OperationOutcome naming the problem', async () => {
    const cases: [Promise<Response>, number, RegExp][] = [
      [hook(request(f.goffPatientId), {}), 401, /missing credentials/],
      [
        hook(request(f.goffPatientId), { authorization: `Bearer ${await f.idp.sign({ sub: 'ehr' })}` }),
        401,
        /invalid bearer token/,
      ], // audience is not our service
      [hook(request(f.goffPatientId), undefined, 'other-service'), 404, /no CDS service 'other-service'/],
      [hook({ ...request(f.goffPatientId), hook: 'order-select' }), 400, /patient-view hook only/],
      [hook({ ...request(f.goffPatientId), context: { userId: 'u' } }), 400, /context\.patientId/],
      [
        hook(
          request(f.goffPatientId, {
            fhirAuthorization: {
              access_token: 'x',
              token_type: 'Bearer',
              expires_in: 300,
              scope: 'patient/*.read',
              subject: 'a',
            },
          }),
        ),
        400,
        /cds-r-1/,
      ],
      [
        hook(request(f.goffPatientId, { fhirServer: 'https://elsewhere.example/fhir' })),
        400,
        /not an EHR this service is configured for/,
      ],
    ];
    for (const [pending, status, message] of cases) {
      const r = await pending;
      expect(r.status).toBe(status);
      expect(((await r.json()) as OperationOutcome).issue[0].diagnostics).toMatch(message);
    }
    // An API key is accepted too (service accounts, tests).
    expect((await hook(request(f.goffPatientId, { fhirServer: f.sandbox.baseUrl }), key)).status).toBe(200);
  });

  it('When the record changes and the patient is assessed again, Then only the current assessment shows, from a search or a prefetch that holds the superseded one too', async () => {
    const patient = `Patient/${f.goffPatientId}`;
    const before = (await (await hook(request(f.goffPatientId))).json()) as { cards: CdsCard[] };
    expect(before.cards).toHaveLength(1);
    // A newer total cholesterol: a new record, so a new assessment supersedes the one on the card.
    await f.ehr.create({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }], text: 'Total Cholesterol' },
      subject: { reference: patient },
      effectiveDateTime: '2021-03-20T09:30:00+00:00',
      valueQuantity: { value: 260, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    } as Observation);
    const assessed = await fetch(`${f.service.url}/fhir/${patient}/$assess`, { method: 'POST', headers: key });
    expect(assessed.status).toBe(200);
    const risks = await f.ehr.searchAll<RiskAssessment>('RiskAssessment', { subject: patient });
    expect(risks.map((r) => r.status).sort()).toEqual(['cancelled', 'preliminary']);
    const currentRa = risks.find((r) => r.status === 'preliminary')!;

    const { cards } = (await (await hook(request(f.goffPatientId))).json()) as { cards: CdsCard[] };
    expect(cards).toHaveLength(1);
    expect(cards[0].links?.[0].url).toBe(`${f.sandbox.baseUrl}/RiskAssessment/${currentRa.id}`);
    expect(cards[0].uuid).not.toBe(before.cards[0].uuid);
    const prefetch = {
      riskAssessments: await f.ehr.get<Bundle>('RiskAssessment', { subject: patient }),
      impressions: await f.ehr.get<Bundle>('ClinicalImpression', { subject: patient }),
    };
    expect((prefetch.riskAssessments.entry ?? []).length).toBe(2);
    const fromPrefetch = (await (await hook(request(f.goffPatientId, { prefetch }))).json()) as { cards: CdsCard[] };
    expect(fromPrefetch.cards.map((c) => c.uuid)).toEqual([cards[0].uuid]);
  });
});

/** Which stored resources make cards: only current ones (pure, on hand-made resources). */
describe('CDS cards: only the current assessment per calculator', () => {
  const ra = (id: string, status: RiskAssessment['status'], at: string, tag?: boolean): RiskAssessment => ({
    resourceType: 'RiskAssessment',
    id,
    status,
    meta: tag ? { tag: [SUPERSEDED_TAG] } : {},
    identifier: [{ system: ASSESSMENT_ID_SYSTEM, value: `${id}-pce` }],
    subject: { reference: 'Patient/p' },
    occurrenceDateTime: at,
    method: { coding: [{ code: 'pce-2013' }] },
    prediction: [{ probabilityDecimal: 0.05 }],
  });
  const ids = (cards: CdsCard[]) => cards.map((c) => c.links?.[0].url.split('/').pop());

  it('When newer results are cancelled, entered-in-error or tagged superseded, Then the newest current one is the card', () => {
    const risks = [
      ra('old', 'final', '2024-01-01T00:00:00Z'),
      ra('cancelled', 'cancelled', '2024-03-01T00:00:00Z'),
      ra('in-error', 'entered-in-error', '2024-04-01T00:00:00Z'),
      ra('tagged', 'preliminary', '2024-05-01T00:00:00Z', true),
    ];
    expect(ids(buildCards(risks, [], 'https://ehr'))).toEqual(['old']);
    expect(ids(buildCards([...risks, ra('new', 'preliminary', '2024-06-01T00:00:00Z')], [], 'https://ehr'))).toEqual([
      'new',
    ]);
    expect(buildCards(risks.slice(1), [], 'https://ehr')).toEqual([]);
  });

  it('When the newest impression that computed nothing is superseded, Then no "not computed" card shows for it', () => {
    const ci = (id: string, status: ClinicalImpression['status'], tag: boolean): ClinicalImpression => ({
      resourceType: 'ClinicalImpression',
      id,
      status,
      meta: tag ? { tag: [SUPERSEDED_TAG] } : {},
      identifier: [{ system: ASSESSMENT_ID_SYSTEM, value: `${id}-impression` }],
      subject: { reference: 'Patient/p' },
      date: '2024-01-01T00:00:00Z',
    });
    expect(buildCards([], [ci('gone', 'completed', true)], 'https://ehr')).toEqual([]);
    expect(buildCards([], [ci('now', 'in-progress', false)], 'https://ehr')).toHaveLength(1);
  });
});
