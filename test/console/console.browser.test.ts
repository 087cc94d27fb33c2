import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RiskAssessment } from '@medplum/fhirtypes';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCurrent } from '../../src/api/cds-cards.js';
import type { ModelOutput } from '../../src/models/model.js';
import type { PatientRow } from '../../src/validation/evaluate-patient.js';
import { buildReport, type ValidationReport } from '../../src/validation/report.js';
import { ValidationReportStore } from '../../src/validation/report-store.js';
import { seededRng } from '../../src/validation/stats/rng.js';
import { targetFor } from '../../src/validation/targets.js';
import { API_KEY, type ApiFixture, startApiFixture } from '../api/api-fixture.js';
import { type TestDatabase, useTestDatabase } from '../helpers/postgres.js';

/** Debian's chromium (`apt-get install -y chromium`; .ci/run installs it when missing). */
const CHROMIUM = '/usr/bin/chromium';
const ADMIN = { username: 'operator', password: 'console-password-123' };
/** Screenshots, kept as test artifacts (CI uploads the folder; docs/console/ holds copies for the README). */
const ARTIFACTS = 'test-artifacts/console';

describe.skipIf(!existsSync(CHROMIUM))('operator console in headless Chromium', () => {
  let f: ApiFixture;
  let testDb: TestDatabase;
  let browser: Browser;
  let page: Page;
  let report: ValidationReport;
  const assessed: string[] = [];

  beforeAll(async () => {
    testDb = await useTestDatabase();
    f = await startApiFixture('console', {
      ADMIN_USER: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      DATABASE_URL: testDb.url,
    });
    const ids = [f.goffPatientId, ...(await f.ehr.searchAll('Patient', { _count: '4' })).map((p) => p.id as string)];
    for (const id of ids.slice(0, 4)) {
      const r = await fetch(`${f.service.url}/fhir/Patient/${id}/$assess`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      expect(r.status).toBe(200);
      assessed.push(id);
    }
    // A stored validation report for the running model version (its drift baseline), and a day of outputs
    // far above it, so the Models page has a report, a calibration plot and a drift line to show.
    const model = f.service.registered[0].model;
    const rng = seededRng(4);
    const rows: PatientRow[] = Array.from({ length: 300 }, (_, i) => {
      const risk = rng() * 0.2;
      return {
        patientId: `v${i}`,
        prediction: 'pce-2013',
        risk,
        time: 10,
        event: rng() < risk,
        end: 'horizon',
        sex: i % 2 ? 'male' : 'female',
        age: 40 + (i % 40),
        inputs: { 'Total cholesterol': 150 + rng() * 100 },
      };
    });
    report = buildReport(rows, {
      target: targetFor('pce-2013'),
      model: { id: model.id, version: model.version, title: model.title },
      asOf: new Date('2011-01-01'),
      source: 'ehr',
      selection: 'all patients',
      bootstrap: { reps: 20, seed: 1 },
    });
    await new ValidationReportStore(f.service.db!).save(report);
    const out = (risk: number): ModelOutput => ({
      modelId: model.id,
      modelVersion: model.version,
      predictions: [
        {
          calculator: 'pce-2013',
          outcome: { text: 'ASCVD' },
          probability: risk,
          rationale: '',
          inputsUsed: [{ name: 'Total cholesterol', value: 260 }],
        },
      ],
      missing: [],
      exclusions: [],
      summary: '',
      basis: [],
    });
    for (let i = 0; i < 60; i++) await f.service.monitoring.outputs.record(out(0.3 + rng() * 0.2), 'shadow');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    const context = await browser.newContext({ httpCredentials: ADMIN, viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await f?.close();
    await testDb?.drop();
  });

  const open = async (path: string, shot: string) => {
    const r = await page.goto(`${f.service.url}${path}`);
    expect(r?.status()).toBe(200);
    await page.screenshot({ path: join(ARTIFACTS, `${shot}.png`), fullPage: true });
  };
  const text = async (testid: string) => ((await page.getByTestId(testid).first().textContent()) ?? '').trim();

  it('When signed out, Then the console answers 401 with a Basic challenge; a wrong API scope is not enough', async () => {
    const r = await fetch(`${f.service.url}/console`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="fhir-assess console"/);
    expect(((await r.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  it('Overview: the assessments, failed jobs and EHR health shown match the queues and the monitoring counts', async () => {
    await open('/console', 'overview');
    const counts = await f.service.assessQueue.getJobCounts('failed');
    expect(Number(await text('failed-assess'))).toBe(counts.failed ?? 0);
    // 4 assessments written through $assess plus 60 recorded outputs.
    expect(Number(await text('assessments-total'))).toBe(assessed.length + 60);
    expect(await text('ehr-health')).toBe('reachable');
    expect(await page.locator('canvas#per-day[data-drawn="true"]').count()).toBe(1);
  });

  it('Models: the mode, the stored report’s O/E and a drawn drift chart; the report page shows the API’s numbers', async () => {
    await open('/console/models', 'models');
    const model = f.service.registered[0];
    expect(await text(`mode-${model.model.id}`)).toBe(model.mode);
    const api = (await (
      await fetch(`${f.service.url}/console/api/reports/${report.id}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      })
    ).json()) as ValidationReport;
    expect(await text(`oe-${report.id}`)).toBe(api.overall.oe?.toFixed(2));
    expect(await page.locator('canvas[id^="drift-"][data-drawn="true"]').count()).toBeGreaterThan(0);
    await open(`/console/models/reports/${report.id}`, 'validation-report');
    expect(Number(await page.locator('[data-count="assessed"]').textContent())).toBe(api.counts.assessed);
    expect(Number(await page.locator('[data-count="events"]').textContent())).toBe(api.counts.events);
    expect(await page.locator('canvas#r-calibration[data-drawn="true"]').count()).toBe(1);
  });

  it('Review: the count of results awaiting review equals the current preliminary RiskAssessments on the EHR', async () => {
    await open('/console/review', 'review');
    // R4 RiskAssessment has no status search parameter: read ours and keep the current preliminary ones.
    const ours = await f.ehr.searchAll<RiskAssessment>('RiskAssessment', { identifier: 'urn:fhir-assess:assessment|' });
    const onEhr = ours.filter((r) => r.status === 'preliminary' && isCurrent(r));
    expect(onEhr.length).toBeGreaterThan(0);
    expect(Number(await text('review-count'))).toBe(onEhr.length);
    const first = onEhr[0];
    const shown = await text(`review-probability-${first.id}`);
    expect(shown).toBe(`${((first.prediction?.[0]?.probabilityDecimal ?? 0) * 100).toFixed(1)} %`);
  });

  it('Patient: the written PCE result (Goff 2013 example, 5.38 %) with every input, its value, date and source', async () => {
    await open(`/console/patient?id=${f.goffPatientId}`, 'patient');
    const written = (
      await f.ehr.searchAll<RiskAssessment>('RiskAssessment', { subject: `Patient/${f.goffPatientId}` })
    ).filter(isCurrent);
    const pce = written.find((r) => r.method?.coding?.[0]?.code === 'pce-2013');
    expect(await text('written-pce-2013')).toBe(
      `${((pce?.prediction?.[0]?.probabilityDecimal ?? 0) * 100).toFixed(2)} %`,
    );
    expect(await text('written-pce-2013')).toBe('5.38 %'); // Goff DC Jr et al. 2013, Table A worked example
    expect(await text('matches-written')).toMatch(/unchanged since the written assessment/);
    const inputs = page.getByTestId(/^inputs-/).first();
    const row = inputs.locator('tr', { hasText: 'Total cholesterol' });
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.textContent()).toMatch(/213.*mg\/dL.*Observation\//s);
    await page.goto(`${f.service.url}/console/patient?id=..`);
    expect(await text('patient-error')).toContain('is not a FHIR id');
  });
});
