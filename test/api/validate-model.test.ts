import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateResource } from '@medplum/core';
import type { Group, OperationOutcome, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServices } from '../../src/api/api-services.js';
import { buildApp } from '../../src/api/app.js';
import { progressText } from '../../src/api/validation-result.js';
import { validateCommand } from '../../src/cli/validate.js';
import { loadFhirDefinitions } from '../../src/fhir/definitions.js';
import type { SandboxRequestSeen } from '../../src/sandbox/index.js';
import { createLogger } from '../../src/util/logger.js';
import type { ValidationReport } from '../../src/validation/report.js';
import { ValidationReportStore } from '../../src/validation/report-store.js';
import { configuredModels } from '../../src/validation/validation-spec.js';
import { capture } from '../helpers/capture.js';
import { type TestDatabase, useTestDatabase } from '../helpers/postgres.js';
import { knownPatient } from '../validation/known-patient.js';
import { API_KEY, type ApiFixture, poll, startApiFixture } from './api-fixture.js';

/**
 * `$validate-model` over real HTTP: the sandbox EHR (16 Synthea patients, the Goff example and one
 * patient with a known outcome), real Redis and BullMQ workers, real PostgreSQL for the reports.
 */
describe('FHIR REST API: $validate-model and its status URL', () => {
  let f: ApiFixture;
  let testDb: TestDatabase;
  let base: string;
  let workDir: string;
  const seen: SandboxRequestSeen[] = [];
  const key = { authorization: `Bearer ${API_KEY}` };
  const json = { 'content-type': 'application/fhir+json' };
  const request: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'model', valueString: 'pce-2013' },
      { name: 'model', valueString: 'charlson-age-adjusted' },
      { name: 'asOf', valueDate: '2011-01-01' },
      { name: 'bootstrap', valueInteger: 30 },
    ],
  };

  beforeAll(async () => {
    testDb = await useTestDatabase();
    workDir = mkdtempSync(join(tmpdir(), 'fa-validate-model-'));
    f = await startApiFixture(
      'validate-model',
      { DATABASE_URL: testDb.url, VALIDATION_RATE: '0', VALIDATION_WORK_DIR: workDir },
      createLogger('silent'),
      (r) => seen.push(r),
    );
    await f.ehr.transaction(knownPatient());
    base = `${f.service.url}/fhir`;
  }, 120_000);
  afterAll(async () => {
    await f?.close();
    await testDb?.drop();
    rmSync(workDir, { recursive: true, force: true });
  });

  const post = (body: unknown, headers: Record<string, string> = key, query = '') =>
    fetch(`${base}/$validate-model${query}`, {
      method: 'POST',
      headers: { ...headers, ...(body ? json : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  /** Polls a status URL until it stops answering 202; returns the final response and the progress lines seen. */
  async function finalStatus(url: string, headers = key): Promise<{ res: Response; progress: string[] }> {
    const progress: string[] = [];
    const res = await poll(
      async () => {
        const r = await fetch(url, { headers });
        if (r.status !== 202) return r;
        progress.push(r.headers.get('x-progress') ?? '');
        expect(r.headers.get('retry-after')).toBe('5');
        return undefined;
      },
      90_000,
      `status ${url}`,
    );
    return { res, progress };
  }

  const part = (p: ParametersParameter, name: string) => p.part?.find((x) => x.name === name);
  /** What the CLI and the API may differ in: when and therefore under which id a report was made. */
  const content = ({ id: _id, createdAt: _at, ...rest }: ValidationReport) => rest;

  it('When a validation is requested with respond-async, Then the status URL reports progress and ends in Parameters citing the stored reports, equal to what the CLI computes, and nothing is written to the EHR', async () => {
    seen.length = 0;
    const worker = f.service.workers!.validate!;
    await worker.pause(); // so that the run is certainly still queued at the first poll
    const r = await post(request, { ...key, prefer: 'respond-async' });
    expect(r.status).toBe(202);
    expect(((await r.json()) as OperationOutcome).issue[0].diagnostics).toMatch(/accepted as validation run val-/);
    const statusUrl = r.headers.get('content-location') as string;
    expect(statusUrl).toMatch(new RegExp(`^${f.service.url}/fhir/\\$validate-model-status/[a-f0-9]{24}$`));
    const queued = await fetch(statusUrl, { headers: key });
    expect(queued.status).toBe(202);
    expect(queued.headers.get('x-progress')).toBe('queued');
    expect(((await queued.json()) as OperationOutcome).issue[0]).toMatchObject({ code: 'informational' });
    worker.resume();

    const { res, progress } = await finalStatus(statusUrl);
    expect(res.status).toBe(200);
    for (const line of progress) expect(line).toMatch(/^(queued|started|read \d+( of \d+)? patients.*)$/);
    const result = (await res.json()) as Parameters;
    // What the last progress report said: every patient read, then the reports written.
    const run = result.parameter!.find((p) => p.name === 'run')!.valueString!;
    const job = (await f.service.validateQueue.getJob(run))!;
    expect(progressText('active', job)).toBe('read 18 of 18 patients; writing the reports');
    loadFhirDefinitions();
    expect(validateResource(result).filter((i) => i.severity === 'error')).toEqual([]);
    const reports = result.parameter!.filter((p) => p.name === 'report');
    expect(reports.map((p) => part(p, 'prediction')?.valueString)).toEqual(['pce-2013', 'charlson-age-adjusted']);
    const pce = reports[0];
    expect(part(pce, 'patients')?.valueInteger).toBe(18); // 16 Synthea, the Goff example, the known patient
    expect(part(pce, 'assessed')?.valueInteger).toBe(1); // only the known patient has PCE inputs by 2011
    expect(part(pce, 'events')?.valueInteger).toBe(1); // its MI in 2015
    expect(part(pce, 'html')?.valueUrl).toBe(`${f.service.url}/console/models/reports/${part(pce, 'id')?.valueId}`);

    // The whole report is attached, and it is the one stored in PostgreSQL under the id a promotion cites.
    const store = new ValidationReportStore(f.service.db!);
    const fromApi = reports.map((p) => {
      const attachment = part(p, 'json')!.valueAttachment!;
      expect(attachment.contentType).toBe('application/json');
      return JSON.parse(Buffer.from(attachment.data!, 'base64').toString('utf8')) as ValidationReport;
    });
    for (const [i, report] of fromApi.entries()) {
      expect(report.id).toBe(part(reports[i], 'id')?.valueId);
      expect(await store.get(report.id)).toEqual(report);
    }

    // The CLI on the same inputs computes the same reports (only the time made, and so the id, differ).
    const out = mkdtempSync(join(tmpdir(), 'fa-validate-model-cli-'));
    try {
      const quiet = { out: capture(), err: capture() };
      const argv = ['--model', 'pce-2013,charlson-age-adjusted', '--as-of', '2011-01-01', '--bootstrap', '30'];
      const code = await validateCommand(
        [...argv, '--rate', '0', '--out', out, '--quiet'],
        { FHIR_BASE_URL: f.sandbox.baseUrl, LOG_LEVEL: 'silent' },
        quiet,
      );
      expect(code).toBe(0);
      const fromCli = readdirSync(out)
        .filter((n) => n.endsWith('.json'))
        .map((n) => JSON.parse(readFileSync(join(out, n), 'utf8')) as ValidationReport);
      for (const report of fromApi) {
        const cli = fromCli.find((c) => c.model.prediction === report.model.prediction)!;
        expect(content(report)).toEqual(content(cli));
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }

    // Read only: GETs, and POSTs of batch Bundles of searches at most; never a transaction or a resource write.
    expect(seen.length).toBeGreaterThan(18);
    expect(seen.filter((s) => !['GET', 'HEAD'].includes(s.method) && s.bundleType !== 'batch')).toEqual([]);
    // The checkpoint is gone once the reports are stored.
    expect(readdirSync(workDir).filter((n) => n.endsWith('.checkpoint.ndjson'))).toEqual([]);

    // The same request again is the same run: same reports, no second run, no new report stored.
    const again = await post(request);
    expect(again.status).toBe(202);
    const second = await finalStatus(again.headers.get('content-location') as string);
    const resultAgain = (await second.res.json()) as Parameters;
    expect(resultAgain.parameter!.find((p) => p.name === 'run')).toEqual(
      result.parameter!.find((p) => p.name === 'run'),
    );
    expect(resultAgain.parameter!.filter((p) => p.name === 'report').map((p) => part(p, 'id')?.valueId)).toEqual(
      fromApi.map((r) => r.id),
    );
    expect(await f.service.validateQueue.getJobCounts('completed', 'active', 'waiting', 'delayed')).toMatchObject({
      completed: 1,
    });
    expect(await store.list({ prediction: 'pce-2013' })).toHaveLength(1);
  }, 120_000);

  it('When the parameters are wrong, Then the answer is a 400 or 422 OperationOutcome naming the problem, and nothing is queued', async () => {
    const params = (...parameter: ParametersParameter[]): Parameters => ({ resourceType: 'Parameters', parameter });
    const model = (v: string) => ({ name: 'model', valueString: v });
    const asOf = (v: string) => ({ name: 'asOf', valueDate: v });
    const cases: [string, Parameters | undefined, string, number, RegExp][] = [
      ['no model', params(asOf('2011-01-01')), '', 400, /'model' is required/],
      ['no asOf', params(model('pce-2013')), '', 400, /'asOf' is required: a date YYYY-MM-DD/],
      ['bad asOf', params(model('pce-2013'), asOf('2011-02-30')), '', 400, /'asOf' must be a date YYYY-MM-DD/],
      ['unknown parameter', undefined, '?model=pce-2013&asOf=2011-01-01&rate=5', 400, /unknown parameter\(s\): rate/],
      ['two asOf', undefined, '?model=pce-2013&asOf=2011-01-01&asOf=2012-01-01', 400, /at most one 'asOf'/],
      ['bad horizon', undefined, '?model=pce-2013&asOf=2011-01-01&horizon=ten', 400, /'horizon' must be whole years/],
      ['bad group id', undefined, '?model=pce-2013&asOf=2011-01-01&population=Group/..', 400, /must be a FHIR id/],
      ['bad population', undefined, '?model=pce-2013&asOf=2011-01-01&population=men', 400, /all or Group\/\{id\}/],
      ['bootstrap', undefined, '?model=pce-2013&asOf=2011-01-01&bootstrap=99999', 400, /'bootstrap' must be a whole/],
      ['unknown source', undefined, '?model=pce-2013&asOf=2011-01-01&source=other', 400, /unknown source 'other'/],
      ['not Parameters', { resourceType: 'Patient' } as never, '', 400, /must be a FHIR Parameters resource/],
      ['unknown prediction', undefined, '?model=news2&asOf=2011-01-01', 422, /no outcome definition for 'news2'/],
      ['other horizon', undefined, '?model=pce-2013&asOf=2011-01-01&horizon=5y', 422, /predicts a 10-year risk/],
      [
        'version not configured',
        undefined,
        '?model=pce-2013@9.9.9&asOf=2011-01-01',
        422,
        /at version 9\.9\.9; configured models that do: fhir-assess-risk-equations@/,
      ],
      [
        'follow-up before as-of',
        undefined,
        '?model=pce-2013&asOf=2011-01-01&recordsCompleteUntil=2010-01-01',
        422,
        /'recordsCompleteUntil' \(2010-01-01\) must be after 'asOf'/,
      ],
      [
        'unknown Group',
        undefined,
        '?model=pce-2013&asOf=2011-01-01&population=Group/nope',
        404,
        /Group\/nope not found/,
      ],
    ];
    const before = await f.service.validateQueue.getJobCountByTypes('completed', 'active', 'waiting', 'delayed');
    for (const [what, body, query, status, message] of cases) {
      const r = await post(body, key, query);
      expect(r.status, what).toBe(status);
      expect(r.headers.get('content-type'), what).toMatch(/^application\/fhir\+json/);
      const oo = (await r.json()) as OperationOutcome;
      expect(oo.resourceType, what).toBe('OperationOutcome');
      expect(oo.issue[0].diagnostics, what).toMatch(message);
    }
    expect(await f.service.validateQueue.getJobCountByTypes('completed', 'active', 'waiting', 'delayed')).toBe(before);
  });

  it('When the caller is not authenticated or lacks the validate scope, Then 401 or 403; and a status URL is only its starter’s', async () => {
    const anonymous = await post(request, {});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await anonymous.json()) as OperationOutcome).issue[0].code).toBe('security');
    const status = await fetch(`${base}/$validate-model-status/${'a'.repeat(24)}`);
    expect(status.status).toBe(401);

    const assessOnly = await f.idp.sign({ sub: 'clinician-app', scope: 'fhir-assess/assess' });
    const refused = await post(request, { authorization: `Bearer ${assessOnly}` });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as OperationOutcome).issue[0].diagnostics).toContain("'fhir-assess/validate'");

    // A governance lead's token may start one (this identical request joins the finished run) ...
    const lead = await f.idp.sign({ sub: 'governance-lead', scope: 'fhir-assess/validate' });
    const started = await post(request, { authorization: `Bearer ${lead}` });
    expect(started.status).toBe(202);
    const url = started.headers.get('content-location') as string;
    expect((await finalStatus(url, { authorization: `Bearer ${lead}` })).res.status).toBe(200);
    // ... and nobody else may read its status URL (answered like an unknown id).
    const other = await f.idp.sign({ sub: 'someone-else', scope: 'fhir-assess/validate' });
    const foreign = await fetch(url, { headers: { authorization: `Bearer ${other}` } });
    expect(foreign.status).toBe(404);
    expect(((await foreign.json()) as OperationOutcome).issue[0].diagnostics).toMatch(/not yours/);
  }, 60_000);

  it('When records cannot be read, Then the status URL answers 502 with an OperationOutcome saying which and what to do', async () => {
    const group = await f.ehr.create<Group>({
      resourceType: 'Group',
      type: 'person',
      actual: true,
      member: [{ entity: { reference: 'Patient/does-not-exist' } }],
    });
    const r = await post(undefined, key, `?model=pce-2013&asOf=2011-01-01&population=Group/${group.id}`);
    expect(r.status).toBe(202);
    const { res } = await finalStatus(r.headers.get('content-location') as string);
    expect(res.status).toBe(502);
    const oo = (await res.json()) as OperationOutcome;
    expect(oo.issue[0]).toMatchObject({ severity: 'error', code: 'transient' });
    expect(oo.issue[0].diagnostics).toMatch(
      /validation run val-[0-9a-f]{24} failed after 1 attempt: validation: 1 patient record\(s\) could not be read, no report written: 1 × EHR answered HTTP 404 at Patient\/\{id\}: Not found\. Check that the EHR answers/,
    );
    expect(oo.issue[0].diagnostics).toMatch(/then POST the same \$validate-model again/);

    // Asking again retries the failed run (with its attempts reset): the record is read again, and fails again.
    const readsOf = () => seen.filter((x) => x.url.includes('/Patient/does-not-exist')).length;
    const before = readsOf();
    const retried = await post(undefined, key, `?model=pce-2013&asOf=2011-01-01&population=Group/${group.id}`);
    expect(retried.status).toBe(202);
    const again = await finalStatus(retried.headers.get('content-location') as string);
    expect(again.res.status).toBe(502);
    expect(((await again.res.json()) as OperationOutcome).issue[0].diagnostics).toMatch(/failed after 1 attempt/);
    expect(readsOf()).toBeGreaterThan(before);
  }, 60_000);

  it('When no database is configured, Then a valid request is answered 501 saying to set DATABASE_URL', async () => {
    const shared = {
      redis: f.service.redis,
      sources: f.service.sources,
      assessQueue: f.service.assessQueue,
      eventsQueue: f.service.eventsQueue,
      validateQueue: f.service.validateQueue,
    };
    const api = await createApiServices(f.cfg, {
      ...shared,
      validatable: configuredModels(f.cfg),
      modelIds: ['fhir-assess-risk-equations'],
    });
    const app = await buildApp({
      ...shared,
      logger: createLogger('silent'),
      bodyLimit: 1_000_000,
      keyPrefix: f.cfg.QUEUE_PREFIX,
      ready: async () => ({ ok: true, checks: {} }),
      api: api.deps,
    });
    try {
      const r = await app.inject({
        method: 'POST',
        url: '/fhir/$validate-model?model=pce-2013&asOf=2011-01-01',
        headers: key,
      });
      expect(r.statusCode).toBe(501);
      expect((r.json() as OperationOutcome).issue[0].diagnostics).toMatch(/set DATABASE_URL/);
    } finally {
      await app.close();
      await api.close();
    }
  });
});

describe('$validate-model: an interrupted run resumes', () => {
  let f: ApiFixture;
  let testDb: TestDatabase;
  let workDir: string;
  const seen: SandboxRequestSeen[] = [];
  const key = { authorization: `Bearer ${API_KEY}` };

  beforeAll(async () => {
    testDb = await useTestDatabase();
    workDir = mkdtempSync(join(tmpdir(), 'fa-validate-resume-'));
    // Paced at 4 records/s, the 17 records take seconds: long enough to interrupt the run part-way.
    const env = {
      DATABASE_URL: testDb.url,
      VALIDATION_RATE: '4',
      VALIDATION_CONCURRENCY: '1',
      VALIDATION_WORK_DIR: workDir,
    };
    f = await startApiFixture('validate-resume', env, createLogger('silent'), (r) => seen.push(r));
  }, 120_000);
  afterAll(async () => {
    await f?.close();
    await testDb?.drop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('When the worker interrupts a run (shutdown), Then the run goes back to the queue and resumes from its checkpoint: no record is read twice', async () => {
    seen.length = 0;
    const r = await fetch(
      `${f.service.url}/fhir/$validate-model?model=charlson-age-adjusted&asOf=2011-01-01&bootstrap=0`,
      {
        method: 'POST',
        headers: { ...key, prefer: 'respond-async' },
      },
    );
    expect(r.status).toBe(202);
    const statusUrl = r.headers.get('content-location') as string;
    await poll(
      async () => {
        const s = await fetch(statusUrl, { headers: key });
        const read = Number(/^read (\d+)/.exec(s.headers.get('x-progress') ?? '')?.[1] ?? 0);
        return read >= 2 ? true : undefined;
      },
      60_000,
      'two records read',
    );
    // What the shutdown does first (src/jobs/workers.ts): abort the running validation.
    f.service.workers!.validate!.cancelAllJobs('shutdown');
    const done = await poll(
      async () => {
        const s = await fetch(statusUrl, { headers: key });
        return s.status === 202 ? undefined : s;
      },
      60_000,
      'the resumed run',
    );
    expect(done.status).toBe(200);
    const result = (await done.json()) as Parameters;
    const report = result.parameter!.find((p) => p.name === 'report')!;
    expect(report.part!.find((p) => p.name === 'patients')?.valueInteger).toBe(17);
    const job = (await f.service.validateQueue.getJob(result.parameter![0].valueString!))!;
    expect((job.progress as { resumed: number }).resumed).toBeGreaterThanOrEqual(2);
    expect(progressText('active', job)).toMatch(/^read 17 of 17 patients \(\d+ from the checkpoint\); writing/);
    // Every patient's record was read once: those read before the interruption were not read again.
    const reads = seen.filter((s) => s.method === 'GET' && /\/Patient\/[^/?]+\/\$everything/.test(s.url));
    const perPatient = new Map<string, number>();
    for (const s of reads) {
      const id = /\/Patient\/([^/?]+)\//.exec(s.url)![1];
      perPatient.set(id, (perPatient.get(id) ?? 0) + 1);
    }
    expect(perPatient.size).toBe(17);
    expect([...perPatient.values()].every((n) => n === 1)).toBe(true);
  }, 90_000);
});
