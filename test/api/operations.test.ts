import { Writable } from 'node:stream';
import type { Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/util/logger.js';
import { API_KEY, type ApiFixture, poll, startApiFixture } from './api-fixture.js';

const ADMIN_PASSWORD = 'dashboard-password-42';
const PHI_NAME = 'Zebediah Quixotefield';

/** pino JSON lines, kept in memory. */
function logSink(): Writable & { lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const text = () => chunks.join('');
  return Object.assign(w, {
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  });
}

/** /metrics, the queue dashboard, request ids and PHI-free logs, on the running service. */
describe('operations: metrics, dashboard, logs', () => {
  let f: ApiFixture;
  const sink = logSink();
  const key = { authorization: `Bearer ${API_KEY}` };

  beforeAll(async () => {
    f = await startApiFixture('ops', { ADMIN_PASSWORD, LOG_LEVEL: 'info' }, createLogger('info', 'fhir-assess', sink));
  });
  afterAll(async () => {
    await f?.close();
  });

  it('When a notification carries a patient name, Then the logs carry request and job ids but never the name', async () => {
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'phi-test',
      name: [{ given: ['Zebediah'], family: 'Quixotefield' }],
      birthDate: '1961-02-03',
      gender: 'male',
    };
    await f.ehr.update<Patient & { id: string }>({ ...patient, id: 'phi-test' });
    const r = await fetch(`${f.service.url}/notify/Patient/phi-test`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json', 'x-request-id': 'req-phi-1' },
      body: JSON.stringify(patient),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-request-id')).toBe('req-phi-1');
    // The notification flows through the events queue into an assessment of that patient.
    await poll(
      async () =>
        sink.lines().some((l) => l.msg === 'assessment written' && l.patientId === 'phi-test') ? true : undefined,
      30_000,
      'the assessment of Patient/phi-test',
    );
    const lines = sink.lines();
    expect(lines.some((l) => l.requestId === 'req-phi-1')).toBe(true);
    const written = lines.find((l) => l.msg === 'assessment written' && l.patientId === 'phi-test')!;
    expect(written).toMatchObject({ queue: 'assess', attempt: 1 });
    expect(written.jobId).toBeDefined();
    expect(sink.text()).not.toContain('Zebediah');
    expect(sink.text()).not.toContain('Quixotefield');
    expect(sink.text()).not.toContain(PHI_NAME);
    expect(sink.text()).not.toContain('1961-02-03');
  });

  it('When notifications are accepted or refused, Then each /notify request logs one line with its request id, and other routes keep their request lines', async () => {
    const send = (id: string, body: string) =>
      fetch(`${f.service.url}/notify/Observation/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json', 'x-request-id': id },
        body,
      });
    const observation = { resourceType: 'Observation', id: 'log-ok-1', status: 'final', code: { text: 'x' } };
    expect((await send('log-ok-1', JSON.stringify(observation))).status).toBe(200);
    expect((await send('log-bad-1', '{not json')).status).toBe(400);
    await fetch(`${f.service.url}/healthz`, { headers: { 'x-request-id': 'log-health-1' } });
    const of = (id: string) => sink.lines().filter((l) => l.requestId === id);
    expect(of('log-ok-1').map((l) => l.msg)).toEqual(['notification accepted']);
    expect(of('log-ok-1')[0]).toMatchObject({ events: 1, source: 'ehr', ms: expect.any(Number) });
    expect(of('log-bad-1')).toEqual([expect.objectContaining({ msg: 'notification refused', status: 400 })]);
    expect(of('log-health-1').map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
  });

  it('When /metrics is scraped, Then it needs credentials and exposes events, jobs by state, stage latency, EHR requests, model latency and write-backs', async () => {
    expect((await fetch(`${f.service.url}/metrics`)).status).toBe(401);
    const noAdmin = await f.idp.sign({ sub: 'prom', scope: 'fhir-assess/assess' });
    expect((await fetch(`${f.service.url}/metrics`, { headers: { authorization: `Bearer ${noAdmin}` } })).status).toBe(
      403,
    );
    const admin = await f.idp.sign({ sub: 'prom', scope: 'fhir-assess/admin' });
    const r = await fetch(`${f.service.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    expect(text).toMatch(/fhir_assess_events_received_total\{source="ehr",variant="[^"]+"\} [1-9]/);
    expect(text).toMatch(/fhir_assess_jobs\{queue="assess",state="completed"\} [1-9]/);
    expect(text).toContain('fhir_assess_jobs{queue="events",state="failed"} 0');
    for (const stage of ['intake', 'record', 'model', 'writeback'])
      expect(text).toMatch(new RegExp(`fhir_assess_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`));
    expect(text).toMatch(/fhir_assess_ehr_requests_total\{source="ehr",method="GET",status="2xx"\} [1-9]/);
    expect(text).toMatch(/fhir_assess_model_duration_seconds_count\{model="fhir-assess-risk-equations"\} [1-9]/);
    expect(text).toMatch(/fhir_assess_writebacks_total\{mode="preliminary",outcome="created"\} [1-9]/);
    expect(text).toContain('fhir_assess_process_resident_memory_bytes');
  });

  it('When the queue dashboard is opened, Then it asks for Basic credentials and serves Bull Board to the admin', async () => {
    const dash = `${f.service.url}/admin/queues`;
    const anonymous = await fetch(dash);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm="fhir-assess queues"/);
    const wrong = await fetch(dash, {
      headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
    const basic = { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` };
    const page = await fetch(dash, { headers: basic });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const api = await fetch(`${dash}/api/queues?activeQueue=assess&page=1`, { headers: key });
    expect(api.status).toBe(200);
    const names = ((await api.json()) as { queues: { name: string }[] }).queues.map((q) => q.name).sort();
    expect(names).toEqual(['assess', 'events', 'intake', 'validate']);
    const assessOnly = await f.idp.sign({ sub: 'x', scope: 'fhir-assess/assess' });
    expect((await fetch(dash, { headers: { authorization: `Bearer ${assessOnly}` } })).status).toBe(403);
  });

  it('When probes and request ids are used, Then /healthz and /readyz stay open, and unsafe request ids are replaced', async () => {
    expect((await fetch(`${f.service.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${f.service.url}/readyz`);
    expect(ready.status).toBe(200);
    const odd = await fetch(`${f.service.url}/healthz`, { headers: { 'x-request-id': 'name: Jane Doe' } });
    expect(odd.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
