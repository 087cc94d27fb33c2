import type { Bundle, Group, OperationOutcome, RiskAssessment } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServices } from '../../src/api/api-services.js';
import { buildApp } from '../../src/api/app.js';
import { createLogger } from '../../src/util/logger.js';
import { API_KEY, type ApiFixture, poll, startApiFixture } from './api-fixture.js';

/**
 * The FHIR `$assess` API over real HTTP: sandbox EHR, real Redis, the real workers and write-back.
 */
describe('FHIR REST API: $assess and its status URL', () => {
  let f: ApiFixture;
  let base: string;
  const key = { authorization: `Bearer ${API_KEY}` };

  beforeAll(async () => {
    f = await startApiFixture('assess');
    base = `${f.service.url}/fhir`;
  });
  afterAll(async () => {
    await f?.close();
  });

  const post = (path: string, body?: unknown, headers: Record<string, string> = key) =>
    fetch(`${base}/${path}`, {
      method: 'POST',
      headers: { ...headers, ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  /** Polls a status URL until it stops answering 202; returns the final response. */
  async function finalStatus(url: string): Promise<Response> {
    return poll(
      async () => {
        const r = await fetch(url, { headers: key });
        if (r.status !== 202) return r;
        expect(r.headers.get('x-progress')).toMatch(/of \d+ patients assessed/);
        return undefined;
      },
      60_000,
      `status ${url}`,
    );
  }

  it('When a patient is assessed synchronously, Then the Bundle holds the RiskAssessment, ClinicalImpression, Provenance and Device read back from the EHR', async () => {
    const r = await post(`Patient/${f.goffPatientId}/$assess`);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBeTruthy();
    const bundle = (await r.json()) as Bundle;
    expect(bundle.type).toBe('collection');
    const types = bundle.entry!.map((e) => e.resource!.resourceType).sort();
    expect(types).toEqual(['ClinicalImpression', 'Device', 'Device', 'Provenance', 'RiskAssessment']);
    const ra = bundle.entry!.find((e) => e.resource!.resourceType === 'RiskAssessment')!.resource as RiskAssessment;
    expect(ra.prediction![0].probabilityDecimal).toBeCloseTo(0.0538, 4); // Goff 2013 worked example
    expect(ra.subject.reference).toBe(`Patient/${f.goffPatientId}`);
    // It is what the EHR holds, not a local copy.
    expect((await f.ehr.read<RiskAssessment>('RiskAssessment', ra.id!)).prediction![0].probabilityDecimal).toBe(
      ra.prediction![0].probabilityDecimal,
    );
    expect(bundle.entry!.find((e) => e.resource!.resourceType === 'RiskAssessment')!.fullUrl).toBe(
      `${f.sandbox.baseUrl}/RiskAssessment/${ra.id}`,
    );

    // Asked again: the idempotent write-back returns the same resources and creates nothing new.
    const again = (await (await post(`Patient/${f.goffPatientId}/$assess`)).json()) as Bundle;
    const raAgain = again.entry!.find((e) => e.resource!.resourceType === 'RiskAssessment')!.resource!;
    expect(raAgain.id).toBe(ra.id);
    expect(await f.ehr.searchAll('RiskAssessment', { subject: `Patient/${f.goffPatientId}` })).toHaveLength(1);
  });

  it('When the client prefers respond-async, Then it gets 202 + Content-Location, and the status URL ends in a batch-response naming every resource written', async () => {
    const r = await post(`Patient/${f.goffPatientId}/$assess`, undefined, { ...key, prefer: 'respond-async' });
    expect(r.status).toBe(202);
    const statusUrl = r.headers.get('content-location')!;
    expect(statusUrl).toMatch(new RegExp(`^${f.service.url}/fhir/\\$assess-status/[a-f0-9]{24}$`));
    const done = await finalStatus(statusUrl);
    expect(done.status).toBe(200);
    const bundle = (await done.json()) as Bundle;
    expect(bundle.type).toBe('batch-response');
    const locations = bundle.entry!.map((e) => e.response?.location).filter(Boolean);
    expect(locations.some((l) => l!.startsWith('RiskAssessment/'))).toBe(true);
    expect(bundle.entry!.every((e) => e.response?.status === '201 Created')).toBe(true);
    expect(bundle.entry![0].resource?.resourceType).toBeDefined(); // small results are inlined

    // Someone else (a JWT caller) cannot see this request.
    const token = await f.idp.sign({ sub: 'other-client', scope: 'fhir-assess/assess' });
    const foreign = await fetch(statusUrl, { headers: { authorization: `Bearer ${token}` } });
    expect(foreign.status).toBe(404);
  });

  it('When a Group is assessed, Then every active Patient member is assessed asynchronously and inactive members are not', async () => {
    const patients = (await f.ehr.searchAll<{ id: string; resourceType: 'Patient' }>('Patient', { _count: '50' })).map(
      (p) => p.id,
    );
    const group = await f.ehr.create<Group>({
      resourceType: 'Group',
      type: 'person',
      actual: true,
      member: [
        { entity: { reference: `Patient/${f.goffPatientId}` } },
        { entity: { reference: `${f.sandbox.baseUrl}/Patient/${patients[0]}` } },
        { entity: { reference: `Patient/${patients[1]}` }, inactive: true },
      ],
    });
    const r = await post(`Group/${group.id}/$assess`);
    expect(r.status).toBe(202);
    const done = await finalStatus(r.headers.get('content-location')!);
    expect(done.status).toBe(200);
    const bundle = (await done.json()) as Bundle;
    const subjects = new Set(
      bundle
        .entry!.filter((e) => e.resource?.resourceType === 'ClinicalImpression')
        .map((e) => (e.resource as { subject: { reference: string } }).subject.reference),
    );
    expect(subjects).toEqual(new Set([`Patient/${f.goffPatientId}`, `Patient/${patients[0]}`]));
  });

  it('When patients are listed at system level and the request is cancelled before workers start, Then the queued jobs are removed and the status URL says it was cancelled', async () => {
    await f.service.workers!.assess.pause(); // nothing starts: the jobs stay queued
    try {
      const r = await post('$assess', {
        resourceType: 'Parameters',
        parameter: [
          { name: 'patient', valueReference: { reference: `Patient/${f.goffPatientId}` } },
          { name: 'model', valueString: 'fhir-assess-risk-equations' },
        ],
      });
      expect(r.status).toBe(202);
      const statusUrl = r.headers.get('content-location')!;
      const pending = await fetch(statusUrl, { headers: key });
      expect(pending.status).toBe(202);
      expect(pending.headers.get('x-progress')).toBe('0 of 1 patients assessed');
      expect(pending.headers.get('retry-after')).toBe('2');
      const del = await fetch(statusUrl, { method: 'DELETE', headers: key });
      expect(del.status).toBe(202);
      expect(((await del.json()) as OperationOutcome).issue[0].diagnostics).toBe(
        'cancelled: 1 queued assessment(s) removed',
      );
      const after = await fetch(statusUrl, { headers: key });
      expect(after.status).toBe(404);
      expect(((await after.json()) as OperationOutcome).issue[0].diagnostics).toMatch(/was cancelled/);
      const counts = await f.service.assessQueue.getJobCounts('waiting', 'prioritized', 'delayed');
      expect(counts.waiting + counts.prioritized + counts.delayed).toBe(0);
    } finally {
      f.service.workers!.assess.resume();
    }
  });

  it('When the job does not finish within ASSESS_SYNC_TIMEOUT_MS, Then the synchronous call falls back to 202 + Content-Location', async () => {
    const shared = {
      redis: f.service.redis,
      sources: f.service.sources,
      assessQueue: f.service.assessQueue,
      eventsQueue: f.service.eventsQueue,
    };
    const api = await createApiServices(
      { ...f.cfg, ASSESS_SYNC_TIMEOUT_MS: 300 },
      { ...shared, modelIds: ['fhir-assess-risk-equations'] },
    );
    const app = await buildApp({
      ...shared,
      logger: createLogger('silent'),
      bodyLimit: 1_000_000,
      keyPrefix: f.cfg.QUEUE_PREFIX,
      ready: async () => ({ ok: true, checks: {} }),
      api: api.deps,
    });
    await f.service.workers!.assess.pause(); // the job cannot finish within 300 ms
    try {
      const r = await app.inject({ method: 'POST', url: `/fhir/Patient/${f.goffPatientId}/$assess`, headers: key });
      expect(r.statusCode).toBe(202);
      const path = new URL(String(r.headers['content-location'])).pathname;
      expect(path).toMatch(/^\/fhir\/\$assess-status\/[a-f0-9]{24}$/);
      f.service.workers!.assess.resume();
      expect((await finalStatus(`${f.service.url}${path}`)).status).toBe(200);
    } finally {
      f.service.workers!.assess.resume();
      await app.close();
      await api.close();
    }
  });

  it('When input is bad, Then each problem is a 4xx OperationOutcome naming it', async () => {
    const cases: [Promise<Response>, number, RegExp][] = [
      [post('Patient/no-such-patient/$assess'), 404, /Patient\/no-such-patient not found/],
      [post('Patient/bad_id!/$assess'), 400, /params\/id/],
      [post(`Patient/${f.goffPatientId}/$assess?model=nope`), 400, /unknown model\(s\): nope/],
      [post(`Patient/${f.goffPatientId}/$assess`, { resourceType: 'Patient' }), 400, /Parameters/],
      [post(`Patient/${f.goffPatientId}/$assess?mode=shadow`), 422, /'mode' is not supported/],
      [post('$assess'), 400, /at least one 'patient'/],
      [post('$assess?patient=Observation/1'), 400, /not a Patient\/\{id\} reference/],
      [post('Group/missing-group/$assess'), 404, /Group\/missing-group not found/],
    ];
    for (const [pending, status, message] of cases) {
      const r = await pending;
      expect(r.status).toBe(status);
      const oo = (await r.json()) as OperationOutcome;
      expect(oo.resourceType).toBe('OperationOutcome');
      expect(oo.issue[0].diagnostics).toMatch(message);
    }
  });

  it('When credentials are missing, wrong, expired or lack the scope, Then 401/403 OperationOutcomes; a JWT with the scope works', async () => {
    const path = `Patient/${f.goffPatientId}/$assess`;
    const none = await post(path, undefined, {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await none.json()) as OperationOutcome).issue[0].code).toBe('security');
    expect((await post(path, undefined, { authorization: 'Bearer wrong-key-0123456789abcdefgh' })).status).toBe(401);
    const expired = await f.idp.sign({ sub: 'svc', scope: 'fhir-assess/assess' }, { expiresIn: '-1m' });
    expect((await post(path, undefined, { authorization: `Bearer ${expired}` })).status).toBe(401);
    const wrongAud = await f.idp.sign({ sub: 'svc', scope: 'fhir-assess/assess' }, { audience: 'https://elsewhere' });
    expect((await post(path, undefined, { authorization: `Bearer ${wrongAud}` })).status).toBe(401);
    const noScope = await f.idp.sign({ sub: 'svc', scope: 'system/Patient.rs' });
    const forbidden = await post(path, undefined, { authorization: `Bearer ${noScope}` });
    expect(forbidden.status).toBe(403);
    expect(((await forbidden.json()) as OperationOutcome).issue[0].diagnostics).toMatch(/fhir-assess\/assess/);
    const good = await f.idp.sign({ sub: 'svc', scope: 'system/Patient.rs fhir-assess/assess' });
    expect((await post(path, undefined, { authorization: `Bearer ${good}`, prefer: 'respond-async' })).status).toBe(
      202,
    );
    expect((await post(path, undefined, { 'x-api-key': API_KEY, prefer: 'respond-async' })).status).toBe(202);
  });

  it('When metadata is read, Then our CapabilityStatement advertises $assess without authentication', async () => {
    const r = await fetch(`${base}/metadata`);
    expect(r.status).toBe(200);
    const cs = (await r.json()) as { resourceType: string; rest: { operation?: { name: string }[] }[] };
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(JSON.stringify(cs)).toContain('assess');
  });
});

describe('FHIR REST API: $assess with a shadow-mode model', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await startApiFixture('assess-shadow', { MODEL_MODE: 'shadow' });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('When the model runs in shadow mode, Then $assess returns the would-be resources from the shadow store and the EHR gets nothing', async () => {
    const r = await fetch(`${f.service.url}/fhir/Patient/${f.goffPatientId}/$assess`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(r.status).toBe(200);
    const bundle = (await r.json()) as Bundle;
    const ra = bundle.entry!.find((e) => e.resource?.resourceType === 'RiskAssessment')!;
    expect(ra.fullUrl).toMatch(/^urn:uuid:/); // never written: no EHR id
    expect((ra.resource as RiskAssessment).prediction![0].probabilityDecimal).toBeCloseTo(0.0538, 4);
    const note = bundle.entry!.find((e) => e.resource?.resourceType === 'OperationOutcome')!
      .resource as OperationOutcome;
    expect(note.issue[0].diagnostics).toMatch(/shadow mode: computed .* but not written to the EHR/);
    expect(await f.ehr.searchAll('RiskAssessment', { subject: `Patient/${f.goffPatientId}` })).toHaveLength(0);
  });
});
