import { type AuditAction, type AuditRow, type Queryable, rowFrom } from './audit-trail.js';

/** Filters of `fhir-assess audit` and `GET /fhir/AuditEvent`; all optional, combined with AND. */
export interface AuditFilter {
  /** `Patient/<id>` */
  patient?: string;
  /** `id` (every version) or `id@version`. */
  model?: string;
  action?: AuditAction[];
  /** A reference the record is about (written or used as input), e.g. `RiskAssessment/123`. */
  entity?: string;
  /** Records at or after / before this instant (ISO). */
  since?: string;
  until?: string;
  actor?: string;
  source?: string;
  /** Only records after this sequence number (paging). */
  afterSeq?: number;
}

/** Most records one query returns. */
export const MAX_AUDIT_ROWS = 10_000;

/** The WHERE clause and its parameters for a filter. */
function where(f: AuditFilter): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const terms: string[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    terms.push(sql.replace('?', `$${params.length}`));
  };
  if (f.patient) add('patient = ?', f.patient);
  if (f.model?.includes('@')) add('model = ?', f.model);
  else if (f.model) add("split_part(model, '@', 1) = ?", f.model);
  if (f.action?.length) add('action = ANY(?)', f.action);
  if (f.entity) add('entities @> ARRAY[?]::text[]', f.entity);
  if (f.since) add('recorded >= ?', f.since);
  if (f.until) add('recorded < ?', f.until);
  if (f.actor) add('actor = ?', f.actor);
  if (f.source) add('source = ?', f.source);
  if (f.afterSeq !== undefined) add('seq > ?', f.afterSeq);
  return { sql: terms.length ? `WHERE ${terms.join(' AND ')}` : '', params };
}

/** Matching records in chain order (oldest first), at most `limit` (≤ {@link MAX_AUDIT_ROWS}). */
export async function queryAudit(q: Queryable, f: AuditFilter, limit = 100): Promise<AuditRow[]> {
  const w = where(f);
  const n = Math.min(Math.max(1, limit), MAX_AUDIT_ROWS);
  const r = await q.query(
    `SELECT seq, body, prev_hash, hash FROM audit_events ${w.sql} ORDER BY seq LIMIT ${n}`,
    w.params,
  );
  return r.rows.map(rowFrom);
}

/** Every matching record, page by page (exports over years of records without holding them all). */
export async function* streamAudit(q: Queryable, f: AuditFilter, pageSize = 1000): AsyncGenerator<AuditRow> {
  let after = f.afterSeq;
  for (;;) {
    const page = await queryAudit(q, { ...f, afterSeq: after }, pageSize);
    yield* page;
    if (page.length < pageSize) return;
    after = page[page.length - 1].seq;
  }
}

/** Number of matching records. */
export async function countAudit(q: Queryable, f: AuditFilter): Promise<number> {
  const w = where(f);
  const r = await q.query<{ n: string }>(`SELECT count(*) AS n FROM audit_events ${w.sql}`, w.params);
  return Number(r.rows[0].n);
}
