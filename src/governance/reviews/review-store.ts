import type { Queryable } from '../audit-trail.js';
import type { ReviewDecision, ReviewVia } from './review-marks.js';

/** The latest decision on one assessment. */
export interface StoredReview {
  decision: ReviewDecision;
  via: ReviewVia;
  reviewer?: string;
  decidedAt: string;
}

export async function getReview(q: Queryable, source: string, key: string): Promise<StoredReview | undefined> {
  const r = await q.query<{ decision: ReviewDecision; via: ReviewVia; reviewer: string | null; decided_at: Date }>(
    'SELECT decision, via, reviewer, decided_at FROM assessment_reviews WHERE source = $1 AND assessment_key = $2',
    [source, key],
  );
  const row = r.rows[0];
  return row
    ? {
        decision: row.decision,
        via: row.via,
        reviewer: row.reviewer ?? undefined,
        decidedAt: row.decided_at.toISOString(),
      }
    : undefined;
}

export interface ReviewRow {
  source: string;
  key: string;
  model: string;
  patient: string;
  decision: ReviewDecision;
  via: ReviewVia;
  reviewer?: string;
  reasonCode?: string;
  at: Date;
  resources: string[];
}

/** Records (or replaces) the assessment's decision. */
export async function saveReview(q: Queryable, r: ReviewRow): Promise<void> {
  await q.query(
    `INSERT INTO assessment_reviews (source, assessment_key, model, patient, decision, via, reviewer, reason_code, decided_at, resources)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (source, assessment_key) DO UPDATE SET decision = $5, via = $6, reviewer = $7, reason_code = $8,
       decided_at = $9, resources = $10`,
    [
      r.source,
      r.key,
      r.model,
      r.patient,
      r.decision,
      r.via,
      r.reviewer ?? null,
      r.reasonCode ?? null,
      r.at.toISOString(),
      r.resources,
    ],
  );
}
