import type { Bundle, Group, OperationOutcome, RiskAssessment } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServices } from '../../src/api/api-services.js';
import { buildApp } from '../../src/api/app.js';
import { jobsCommand } from '../../src/cli/jobs.js';
import { describeFailure, failureOutcome } from '../../src/jobs/job-failure.js';
import { createLogger } from '../../src/util/logger.js';
import { type FaultProxy, medplumEverythingRefusal, startFaultProxy } from '../fhir/fault-proxy.js';
import { capture } from '../helpers/capture.js';
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
      validateQueue: f.service.validateQueue,
    };
    const api = await createApiServices(
      { ...f.cfg, ASSESS_SYNC_TIMEOUT_MS: 300 },
      { ...shared, validatable: [], modelIds: ['fhir-assess-risk-equations'] },
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

describe('FHIR REST API: $assess when the EHR refuses the write-back', () => {
  let f: ApiFixture;
  let proxy: FaultProxy;
  const key = { authorization: `Bearer ${API_KEY}` };
  const DENIED = 'Write access denied: the client lacks system/*.write';
  /** Every write (a POST other than a batch read, PUT, PATCH) gets 403, as from a read-only client. */
  const refuseWrites = () => {
    proxy.rule = (req) => {
      const write = ['PUT', 'PATCH'].includes(req.method) || (req.method === 'POST' && !req.body.includes('"batch"'));
      if (!write) return undefined;
      const body = {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'forbidden', diagnostics: DENIED }],
      };
      return { kind: 'status', status: 403, body };
    };
  };

  beforeAll(async () => {
    // The proxy is the service's EHR; it forwards to the fixture's sandbox once that exists.
    proxy = await startFaultProxy('http://127.0.0.1:9/fhir/R4');
    f = await startApiFixture('assess-refused', { FHIR_BASE_URL: proxy.baseUrl });
    proxy.target = new URL(f.sandbox.baseUrl).origin;
  });
  afterAll(async () => {
    await f?.close();
    await proxy?.close();
  });

  const post = (headers: Record<string, string> = {}) =>
    fetch(`${f.service.url}/fhir/Patient/${f.goffPatientId}/$assess`, {
      method: 'POST',
      headers: { ...key, ...headers },
    });

  /** The failure OperationOutcome: names the refused request, says what to do, carries the EHR's answer. */
  function expectRefusalOutcome(oo: OperationOutcome): string {
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(oo.issue[0].code).toBe('security');
    expect(oo.issue[0].diagnostics).toMatch(
      new RegExp(
        `^Patient/${f.goffPatientId}: source 'ehr' refused fhir-assess's request to /fhir/R4/\\w+ with HTTP 403; check the credentials and scopes`,
      ),
    );
    expect(oo.issue[1]).toEqual({
      severity: 'error',
      code: 'security',
      diagnostics: `EHR answer: HTTP 403: ${DENIED}`,
    });
    const jobId = /`fhir-assess jobs retry (\d+)`/.exec(oo.issue[0].diagnostics ?? '')?.[1];
    expect(oo.issue[0].diagnostics).toMatch(/POST the \$assess again, or `fhir-assess jobs retry \d+`/);
    expect(jobId).toBeDefined();
    return jobId!;
  }

  it('When the job fails synchronously, Then 502 with an OperationOutcome naming the refused request, what to do, and the EHR answer', async () => {
    refuseWrites();
    const r = await post();
    expect(r.status).toBe(502);
    expectRefusalOutcome((await r.json()) as OperationOutcome);
    expect(await f.ehr.searchAll('RiskAssessment', { subject: `Patient/${f.goffPatientId}` })).toHaveLength(0);
  });

  it('When the async job fails, Then its status URL answers 502 with the same explanation (not a bare 500); after `jobs retry` with the EHR fixed it answers 200', async () => {
    refuseWrites();
    const r = await post({ prefer: 'respond-async' });
    expect(r.status).toBe(202);
    const statusUrl = r.headers.get('content-location')!;
    const failed = await poll(
      async () => {
        const s = await fetch(statusUrl, { headers: key });
        return s.status === 202 ? undefined : s;
      },
      60_000,
      'the failed status',
    );
    expect(failed.status).toBe(502);
    expect(failed.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    const jobId = expectRefusalOutcome((await failed.json()) as OperationOutcome);

    // Doing what it says: the EHR accepts writes again, and the job is retried.
    proxy.rule = () => undefined;
    const out = capture();
    const env = { FHIR_BASE_URL: proxy.baseUrl, REDIS_URL: f.cfg.REDIS_URL, QUEUE_PREFIX: f.cfg.QUEUE_PREFIX };
    expect(await jobsCommand(['retry', jobId], env, { out, err: capture() })).toBe(0);
    expect(out.text()).toBe(`retried assess/${jobId}\n`);
    const done = await poll(
      async () => {
        const s = await fetch(statusUrl, { headers: key });
        return s.status === 202 ? undefined : s;
      },
      60_000,
      'the retried status',
    );
    expect(done.status).toBe(200);
    const bundle = (await done.json()) as Bundle;
    expect(bundle.entry!.some((e) => e.response?.location?.startsWith('RiskAssessment/'))).toBe(true);
  });
});

describe('FHIR REST API: $assess with recordStrategy everything forced on an EHR that refuses it (Medplum)', () => {
  let f: ApiFixture;
  let proxy: FaultProxy;
  const log = capture();
  const warnings = () =>
    log
      .text()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => String(l.msg).includes('refused record strategy'));

  beforeAll(async () => {
    proxy = await startFaultProxy('http://127.0.0.1:9/fhir/R4', medplumEverythingRefusal);
    f = await startApiFixture(
      'assess-forced',
      { FHIR_BASE_URL: proxy.baseUrl, RECORD_STRATEGY: 'everything', LOG_LEVEL: 'warn' },
      createLogger('warn', 'fhir-assess', log),
    );
    proxy.target = new URL(f.sandbox.baseUrl).origin;
  });
  afterAll(async () => {
    await f?.close();
    await proxy?.close();
  });

  it('When $everything is refused with 400, Then every $assess still answers 200 (batch), one warn line names the source and setting, and $everything is asked once', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${f.service.url}/fhir/Patient/${f.goffPatientId}/$assess`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      expect(r.status).toBe(200);
      const bundle = (await r.json()) as Bundle;
      expect(bundle.entry!.some((e) => e.resource?.resourceType === 'RiskAssessment')).toBe(true);
    }
    const everything = proxy.requests.filter((r) => r.url.split('?')[0].endsWith('/$everything'));
    expect(everything).toHaveLength(1);
    const [warning, ...more] = warnings();
    expect(more).toEqual([]);
    expect(warning).toMatchObject({
      source: 'ehr',
      strategy: 'everything',
      ehrAnswer: 'HTTP 400: types.push is not a function',
      using: 'batch',
      setting: 'recordStrategy',
    });
    expect(await f.service.assessQueue.getFailedCount()).toBe(0);
  });
});

describe('failed jobs explained (describeFailure)', () => {
  const job = (failedReason: string, stack = 'UnrecoverableError: x', priority = 'api') => ({
    id: '42',
    failedReason,
    stacktrace: [`${stack}\n    at somewhere (file.js:1:1)`],
    attemptsMade: stack.startsWith('Unrecoverable') ? 1 : 6,
    data: { source: 'ehr', patientId: 'p1', priority },
  });

  it('tells the patient missing (404), the EHR failing (502) and our own fault (500) apart, each with what to do', () => {
    const missing = describeFailure(job('EHR refused (HTTP 404) at /fhir/R4/Patient/p1: Not found'));
    expect(missing).toMatchObject({ kind: 'patient-not-found', status: 404 });
    expect(missing.next).toBe('nothing to retry unless the patient is restored on the EHR');
    // Older failed jobs have no path in their reason: a 404 then still means the patient.
    expect(describeFailure(job('EHR refused (HTTP 404): Not found')).status).toBe(404);
    // A 404 from another path is the EHR refusing something else, not a missing patient.
    expect(describeFailure(job('EHR refused (HTTP 404) at /fhir/R4/Device: no such type'))).toMatchObject({
      kind: 'ehr-refused',
      status: 502,
    });

    const down = describeFailure(job('EHR failed (HTTP 503) at /fhir/R4/: busy', 'FhirHttpError: busy'));
    expect(down).toMatchObject({ kind: 'ehr-unavailable', status: 502, ehr: { status: 503, text: 'busy' } });
    expect(down.what).toBe("source 'ehr' answered HTTP 503 to /fhir/R4/ (6 attempts)");
    expect(down.next).toMatch(
      /^the EHR may be down, .* then retry: POST the \$assess again, or `fhir-assess jobs retry 42`$/,
    );
    const unreachable = describeFailure(
      job('GET /fhir/R4/Patient/p1/$everything: connection refused (3 attempts)', 'FhirConnectionError: x'),
    );
    expect(unreachable).toMatchObject({ kind: 'ehr-unavailable', status: 502 });

    const bug = describeFailure(
      job(
        "Cannot read properties of undefined (reading 'entry')",
        "TypeError: Cannot read properties of undefined (reading 'entry')",
        'backfill',
      ),
    );
    expect(bug).toMatchObject({ kind: 'internal', status: 500 });
    expect(bug.what).toBe(
      "the assessment failed inside fhir-assess after 6 attempts (TypeError: Cannot read properties of undefined (reading 'entry'))",
    );
    expect(bug.next).toMatch(
      /^this is not caused by the request: please report it with job 42 \(.*\); once it is fixed, retry: run the same backfill command again .* or `fhir-assess jobs retry 42`$/,
    );
    const oo = failureOutcome(bug, 'Patient/p1');
    expect(oo.issue).toHaveLength(1); // no EHR answer to carry
    expect(oo.issue[0]).toMatchObject({ severity: 'error', code: 'exception' });

    const invalid = describeFailure(job('write-back validation failed, nothing written: RiskAssessment fa-ra-5'));
    expect(invalid).toMatchObject({ kind: 'internal', status: 500 });
    expect(describeFailure(job('hosted model (schema): missing field'))).toMatchObject({ kind: 'model', status: 502 });
    expect(describeFailure(job('AuthError: token endpoint https://idp: HTTP 401'))).toMatchObject({
      kind: 'ehr-refused',
      status: 502,
    });
  });
});
