import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { auditCommand } from '../../src/cli/audit.js';
import type { Database } from '../../src/db/database.js';
import { appendAudit } from '../../src/governance/audit-trail.js';
import { capture } from '../helpers/capture.js';
import { type MigratedTestDatabase, useMigratedTestDatabase } from '../helpers/postgres.js';

describe('fhir-assess audit (CLI): filters, CSV/NDJSON export, verify', () => {
  let testDb: MigratedTestDatabase;
  let db: Database;
  let env: Record<string, string>;
  beforeAll(async () => {
    testDb = await useMigratedTestDatabase();
    db = testDb.db;
    env = { DATABASE_URL: testDb.url };
    for (const [i, patient] of ['p1', 'p2', 'p1'].entries())
      await appendAudit(db, {
        action: 'inference',
        recorded: `2025-0${i + 1}-15T10:00:00Z`,
        source: 'ehr',
        patient: `Patient/${patient}`,
        model: 'm@1',
        mode: 'preliminary',
        predictions: [{ calculator: 'pce-2013', probability: 0.05 + i / 100, risk: 'moderate', inputs: ['age'] }],
        inputsUsed: ['Observation/o1'],
        written: [`RiskAssessment/r${i}`],
        jobId: String(i),
      });
    await appendAudit(db, {
      action: 'promotion',
      recorded: '2025-04-01T00:00:00Z',
      model: 'm@1',
      mode: 'final',
      actor: 'Dr "Gov", MD',
      detail: { from: 'preliminary', to: 'final', evidence: 'vr-1', reason: 'ok' },
    });
  });
  afterAll(async () => {
    await testDb?.close();
  });

  const run = async (...argv: string[]) => {
    const io = { out: capture(), err: capture() };
    const code = await auditCommand(argv, env, io);
    return { code, out: io.out.text() };
  };

  it('When filtered and exported as CSV or NDJSON, Then only the matching records come out, CSV-quoted, with their hashes', async () => {
    const csv = await run('--patient', 'Patient/p1', '--format', 'csv');
    const lines = csv.out.trimEnd().split('\r\n');
    expect(lines[0]).toMatch(/^seq,recorded,action,source,patient,model,mode,actor,record_hash/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      /,inference,ehr,Patient\/p1,m@1,preliminary,,,,pce-2013=0\.05\/moderate,Observation\/o1,,RiskAssessment\/r0,0,/,
    );
    const since = await run('--since', '2025-02-01', '--until', '2025-03-31', '--format', 'ndjson');
    const rows = since.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.patient)).toEqual(['Patient/p2', 'Patient/p1']);
    expect(rows[0].hash).toMatch(/^[0-9a-f]{64}$/);
    const promo = await run('--action', 'promotion', '--format', 'csv');
    expect(promo.out).toContain('"Dr ""Gov"", MD"');
    expect((await run('--entity', 'RiskAssessment/r2')).out).toMatch(/#3 .* inference .*Patient\/p1/);
  });

  it('When the chain is intact, verify exits 0 with the head; when a row was altered, it exits 1 naming the record', async () => {
    const ok = await run('verify');
    expect(ok).toMatchObject({
      code: 0,
      out: expect.stringMatching(/audit chain verifies: 4 record\(s\) from the first record; head #4 [0-9a-f]{64}/),
    });
    const client = await db.connect();
    try {
      await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
      await client.query("UPDATE audit_events SET body = replace(body, '0.06', '0.01') WHERE seq = 2");
      const broken = await run('verify');
      expect(broken).toMatchObject({
        code: 1,
        out: expect.stringMatching(/audit chain BROKEN at record #2: hash does not match the body/),
      });
    } finally {
      await client.query("UPDATE audit_events SET body = replace(body, '0.01', '0.06') WHERE seq = 2");
      await client.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only');
      client.release();
    }
    expect((await run('verify')).code).toBe(0);
  });

  it('When a filter is malformed, Then it is a usage error saying what is expected', async () => {
    await expect(run('--action', 'nope')).rejects.toThrow(UsageError);
    await expect(run('--patient', 'p1')).rejects.toThrow(/--patient must be a reference like Patient\/123/);
    await expect(run('--since', 'yesterday')).rejects.toThrow(/--since must be a date/);
  });
});
