import type { Queryable } from './audit-trail.js';

/** `found`: the report exists; `missing`: it does not; `unchecked`: this database keeps no validation reports yet. */
export type EvidenceCheck = 'found' | 'missing' | 'unchecked';

/**
 * Whether the validation report a promotion rests on exists: looked up in `validation_reports` (issue
 * 12's table, text `id`) when that table exists. Kept in one place so the check follows that table.
 */
export async function checkEvidence(q: Queryable, reportId: string): Promise<EvidenceCheck> {
  const table = await q.query<{ t: string | null }>("SELECT to_regclass('validation_reports')::text AS t");
  if (!table.rows[0]?.t) return 'unchecked';
  const r = await q.query('SELECT 1 FROM validation_reports WHERE id = $1', [reportId]);
  return r.rowCount ? 'found' : 'missing';
}
