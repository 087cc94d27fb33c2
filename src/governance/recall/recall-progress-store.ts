import type { Queryable } from '../audit-trail.js';

/** Where one EHR's part of a recall stands: the page being worked through and how far into it. */
export interface SourceProgress {
  source: string;
  /** The search page being processed (absent: the first page), and how many of its entries are done. */
  pageUrl?: string;
  pageIndex: number;
  assessments: number;
  withdrawn: number;
  done: boolean;
}

const key = (model: { modelId: string; version: string }) => [model.modelId, model.version];

/** The EHR's progress row, created at the start when missing. */
export async function loadProgress(
  q: Queryable,
  model: { modelId: string; version: string },
  source: string,
): Promise<SourceProgress> {
  await q.query('INSERT INTO recall_progress (model_id, version, source) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
    ...key(model),
    source,
  ]);
  const r = await q.query<{
    page_url: string | null;
    page_index: number;
    assessments: number;
    withdrawn: number;
    done: boolean;
  }>(
    'SELECT page_url, page_index, assessments, withdrawn, done FROM recall_progress WHERE model_id = $1 AND version = $2 AND source = $3',
    [...key(model), source],
  );
  const row = r.rows[0];
  return {
    source,
    pageUrl: row.page_url ?? undefined,
    pageIndex: row.page_index,
    assessments: row.assessments,
    withdrawn: row.withdrawn,
    done: row.done,
  };
}

/** Saves the checkpoint after each assessment: a crash redoes at most the one in flight (idempotent). */
export async function saveProgress(
  q: Queryable,
  model: { modelId: string; version: string },
  p: SourceProgress,
): Promise<void> {
  await q.query(
    `UPDATE recall_progress SET page_url = $4, page_index = $5, assessments = $6, withdrawn = $7, done = $8
     WHERE model_id = $1 AND version = $2 AND source = $3`,
    [...key(model), p.source, p.pageUrl ?? null, p.pageIndex, p.assessments, p.withdrawn, p.done],
  );
}
