import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateCommand } from '../../src/cli/validate.js';
import { type Database, openDatabase } from '../../src/db/database.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { DEFAULT_PATIENTS_FILE } from '../../src/paths.js';
import { type Sandbox, type SandboxRequestSeen, startSandbox } from '../../src/sandbox/index.js';
import type { ValidationReport } from '../../src/validation/report.js';
import { ValidationReportStore } from '../../src/validation/report-store.js';
import { type TestDatabase, useTestDatabase } from '../helpers/postgres.js';
import { knownPatient } from './known-patient.js';

/** Captures what the command prints. */
function sink(): Writable & { text: string } {
  const w = new Writable({
    write(chunk, _enc, cb) {
      w.text += String(chunk);
      cb();
    },
  }) as Writable & { text: string };
  w.text = '';
  return w;
}

describe('fhir-assess validate against the sandbox EHR', () => {
  let sandbox: Sandbox;
  let testDb: TestDatabase;
  let db: Database;
  let out: string;
  const seen: SandboxRequestSeen[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox({
      dataFiles: [DEFAULT_PATIENTS_FILE],
      logger: false,
      onResponse: (r) => seen.push(r),
    });
    await new FhirClient({ baseUrl: sandbox.baseUrl }).transaction(knownPatient());
    testDb = await useTestDatabase();
    db = openDatabase(testDb.url);
    out = mkdtempSync(join(tmpdir(), 'fa-validate-'));
  }, 120_000);
  afterAll(async () => {
    await db?.end();
    await testDb?.drop();
    await sandbox?.close();
    rmSync(out, { recursive: true, force: true });
  });

  const args = (dir: string) => [
    '--model',
    'pce-2013,charlson-age-adjusted',
    '--as-of',
    '2011-01-01',
    '--out',
    dir,
    '--rate',
    '0',
    '--bootstrap',
    '30',
    '--quiet',
  ];

  it('When run with DATABASE_URL, Then it prints the numbers, writes JSON + HTML, stores each report by id, and writes nothing to the EHR', async () => {
    seen.length = 0;
    const io = { out: sink(), err: sink() };
    const env = { FHIR_BASE_URL: sandbox.baseUrl, DATABASE_URL: testDb.url, LOG_LEVEL: 'silent' };
    expect(await validateCommand(args(out), env, io)).toBe(0);
    expect(io.out.text).toMatch(/pce-2013 \(fhir-assess-risk-equations [\d.]+\): Hard ASCVD/);
    expect(io.out.text).toMatch(/patients 17: assessed 1, excluded 16/);
    expect(io.out.text).toMatch(/events 1,/);
    expect(io.out.text).toMatch(/charlson-age-adjusted .*\n {2}patients 17: assessed \d+/);
    expect(io.out.text).toMatch(/O\/E /);
    expect(io.out.text).toMatch(/C-statistic /);
    const ids = [...io.out.text.matchAll(/stored in PostgreSQL as (vr-\d{8}-[0-9a-f]{12})/g)].map((m) => m[1]);
    expect(ids).toHaveLength(2);
    const store = new ValidationReportStore(db);
    const pce = (await store.get(ids[0])) as ValidationReport;
    expect(pce).toMatchObject({ schema: 'fhir-assess/validation-report/v1', asOf: '2011-01-01', horizonYears: 10 });
    expect(pce.counts).toMatchObject({ patients: 17, assessed: 1, events: 1 });
    expect(pce.baseline.inputs['Total cholesterol']).toMatchObject({ edges: [], proportions: [1], n: 1 });
    const files = readdirSync(out).filter((f) => !f.startsWith('.'));
    expect(files.sort()).toEqual([`${ids[0]}.html`, `${ids[0]}.json`, `${ids[1]}.html`, `${ids[1]}.json`].sort());
    const html = readFileSync(join(out, `${ids[0]}.html`), 'utf8');
    expect(html).toContain('data-chart="r-calibration"');
    expect(html).toContain('Chart.js v4'); // the library is inlined, no CDN
    expect(html).not.toMatch(/<script[^>]+src=/);
    expect((await store.list({ prediction: 'pce-2013' })).map((s) => s.id)).toEqual([ids[0]]);
    await expect(db.query('DELETE FROM validation_reports')).rejects.toThrow(/append-only/);
    // Read only: GETs, and POSTs of batch Bundles of searches at most; never a transaction or a resource write.
    const writes = seen.filter((r) => !['GET', 'HEAD'].includes(r.method) && r.bundleType !== 'batch');
    expect(writes).toEqual([]);
    expect(readdirSync(out).some((f) => f.endsWith('.checkpoint.ndjson'))).toBe(false);
  }, 120_000);

  it('When no database is configured, Then the files are written and it says the report is not stored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fa-validate-nodb-'));
    const io = { out: sink(), err: sink() };
    expect(await validateCommand(args(dir), { FHIR_BASE_URL: sandbox.baseUrl, LOG_LEVEL: 'silent' }, io)).toBe(0);
    expect(io.out.text).toContain('not stored: DATABASE_URL is not set');
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(2);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('When the model or dates are wrong, Then the usage error says what to do', async () => {
    const io = { out: sink(), err: sink() };
    const env = { FHIR_BASE_URL: sandbox.baseUrl };
    await expect(validateCommand(['--model', 'news2', '--as-of', '2011-01-01'], env, io)).rejects.toThrow(
      /no outcome definition for 'news2'; validation covers pce-2013/,
    );
    await expect(validateCommand(['--model', 'pce-2013', '--as-of', '2011'], env, io)).rejects.toThrow(
      /--as-of must be a date YYYY-MM-DD/,
    );
    await expect(validateCommand(['--model', 'pce-2013@9.9.9', '--as-of', '2011-01-01'], env, io)).rejects.toThrow(
      /at version 9\.9\.9; configured models that do: fhir-assess-risk-equations@/,
    );
    expect(existsSync(join(out, 'nothing'))).toBe(false);
  });
});
