import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { queryAudit } from '../../src/governance/audit-query.js';
import { purgeAudit } from '../../src/governance/audit-retention.js';
import { type AuditEntry, appendAudit } from '../../src/governance/audit-trail.js';
import { verifyChain } from '../../src/governance/audit-verify.js';
import { type MigratedTestDatabase, useMigratedTestDatabase } from '../helpers/postgres.js';

const inference = (patient: string, recorded: string): AuditEntry => ({
  action: 'inference',
  recorded,
  source: 'ehr',
  patient: `Patient/${patient}`,
  model: 'pce@1.0.0',
  mode: 'preliminary',
  recordHash: 'ab'.repeat(32),
  inputsUsed: [`Observation/${patient}-tc`],
  predictions: [{ calculator: 'pce-2013', probability: 0.0538, risk: 'moderate', inputs: ['age'] }],
  written: [`RiskAssessment/${patient}-ra`],
  jobId: '17',
});

describe('audit trail (PostgreSQL): append-only, hash-chained', () => {
  let testDb: MigratedTestDatabase;
  let db: Database;
  beforeAll(async () => {
    testDb = await useMigratedTestDatabase();
    db = testDb.db;
  });
  afterAll(async () => {
    await testDb?.close();
  });

  it('When records are appended concurrently, Then they form one chain that verifies', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        appendAudit(db, inference(`p${i}`, `2024-01-01T00:00:${String(i).padStart(2, '0')}Z`)),
      ),
    );
    const report = await verifyChain(db);
    expect(report).toMatchObject({ ok: true, checked: 40 });
    const rows = await queryAudit(db, { patient: 'Patient/p7' });
    expect(rows).toHaveLength(1);
    expect(rows[0].entry.predictions?.[0].probability).toBe(0.0538);
    expect(await queryAudit(db, { entity: 'RiskAssessment/p9-ra' })).toHaveLength(1);
  });

  it('When UPDATE, DELETE or TRUNCATE is tried, Then the database refuses it', async () => {
    await expect(db.query("UPDATE audit_events SET actor = 'x'")).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(db.query('DELETE FROM audit_events')).rejects.toThrow(/append-only: DELETE refused/);
    await expect(db.query('TRUNCATE audit_events')).rejects.toThrow(/append-only: TRUNCATE refused/);
  });

  it('When a row is altered behind the trigger (e.g. by a superuser), Then audit verify names the broken record', async () => {
    const before = await verifyChain(db);
    expect(before.ok).toBe(true);
    const victim = (await queryAudit(db, { patient: 'Patient/p3' }))[0];
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
      const forged = victim.body.replace('0.0538', '0.0138');
      await client.query('UPDATE audit_events SET body = $1 WHERE seq = $2', [forged, victim.seq]);
      const report = await verifyChain(client);
      expect(report.ok).toBe(false);
      expect(report.broken).toEqual({
        seq: victim.seq,
        problem: expect.stringMatching(/hash does not match the body/),
      });
      // Re-hashing the forged row is caught by the next row's link.
      const { createHash } = await import('node:crypto');
      const rehash = createHash('sha256')
        .update(victim.prevHash + forged)
        .digest('hex');
      await client.query('UPDATE audit_events SET hash = $1 WHERE seq = $2', [rehash, victim.seq]);
      const again = await verifyChain(client);
      expect(again.ok).toBe(false);
      expect(again.broken?.seq).toBeGreaterThan(victim.seq);
      expect(again.broken?.problem).toMatch(/prev_hash does not match/);
      // A query column changed without the body is caught too.
      await client.query('ROLLBACK');
      await client.query('BEGIN');
      await client.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
      await client.query("UPDATE audit_events SET patient = 'Patient/other' WHERE seq = $1", [victim.seq]);
      expect((await verifyChain(client)).broken?.problem).toMatch(/column patient differs/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    expect((await verifyChain(db)).ok).toBe(true);
  });

  it('When the retention purge removes old records, Then what remains still verifies and the purge is recorded', async () => {
    // 30 days after the 21st record: the 20 before it are older than the retention.
    const purged = await purgeAudit(db, 30, new Date('2024-01-31T00:00:20Z'));
    expect(purged.removed).toBe(20);
    const report = await verifyChain(db);
    expect(report).toMatchObject({ ok: true, checked: 21 });
    expect(report.startsAfter?.seq).toBe(purged.upToSeq);
    const [purge] = await queryAudit(db, { action: ['retention-purge'] });
    expect(purge.entry.detail).toMatchObject({ removed: 20, upToSeq: purged.upToSeq });
    await appendAudit(db, inference('after', '2024-03-01T00:00:00Z'));
    expect((await verifyChain(db)).ok).toBe(true);
  });
});
