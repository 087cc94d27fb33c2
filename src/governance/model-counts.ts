import type { Queryable } from './audit-trail.js';

/** What a model version did: assessments it made (written or kept in shadow) and the reviews they got. */
export interface VersionCounts {
  assessments: number;
  blocked: number;
  confirmed: number;
  amended: number;
  rejected: number;
}

const ZERO: VersionCounts = { assessments: 0, blocked: 0, confirmed: 0, amended: 0, rejected: 0 };

/** Counts per `id@version`, from the audit trail (inferences) and the review table (latest decision per assessment). */
export async function versionCounts(q: Queryable): Promise<Map<string, VersionCounts>> {
  const counts = new Map<string, VersionCounts>();
  const get = (model: string) => {
    const c = counts.get(model) ?? { ...ZERO };
    counts.set(model, c);
    return c;
  };
  const inferences = await q.query<{ model: string; action: string; n: string }>(
    `SELECT model, action, count(*) AS n FROM audit_events
     WHERE action IN ('inference', 'inference-blocked') GROUP BY model, action`,
  );
  for (const r of inferences.rows) get(r.model)[r.action === 'inference' ? 'assessments' : 'blocked'] = Number(r.n);
  const reviews = await q.query<{ model: string; decision: string; n: string }>(
    'SELECT model, decision, count(*) AS n FROM assessment_reviews GROUP BY model, decision',
  );
  const field = { confirm: 'confirmed', amend: 'amended', reject: 'rejected' } as const;
  for (const r of reviews.rows) get(r.model)[field[r.decision as keyof typeof field]] = Number(r.n);
  return counts;
}
