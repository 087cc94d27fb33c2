import type pg from 'pg';

/** What one audit record is about. Human acts carry an `actor`; inferences carry the job and trace ids. */
export const AUDIT_ACTIONS = [
  'inference',
  'inference-blocked',
  'review',
  'promotion',
  'recall',
  'recall-completed',
  'retention-purge',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** One prediction as audited: computed values and codes only, never text from the record. */
export interface AuditedPrediction {
  calculator: string;
  probability?: number;
  score?: number;
  /** risk-probability code (low, moderate, high...). */
  risk?: string;
  /** The guideline category the model computed (e.g. "borderline (5–<7.5 %)"). */
  category?: string;
  /** Names of the inputs this prediction used (e.g. "HDL cholesterol"). */
  inputs: string[];
}

/**
 * One audit record. References (`Type/id`) and values only: no names, no free text from the record.
 * Fields absent for an action are left out (the canonical body then has no key for them).
 */
export interface AuditEntry {
  action: AuditAction;
  /** When it happened (ISO instant). */
  recorded: string;
  source?: string;
  /** `Patient/<id>` */
  patient?: string;
  /** `id@version` */
  model?: string;
  mode?: string;
  recordHash?: string;
  /** The assessment key (patient + model id@version + record hash). */
  assessment?: string;
  inputsUsed?: string[];
  inputsMissing?: { calculator: string; name: string; reason: string }[];
  predictions?: AuditedPrediction[];
  /** `Type/id` of what was written (or changed) in the EHR. */
  written?: string[];
  jobId?: string;
  traceId?: string;
  /** Who acted, for human acts: a `Practitioner/<id>` reference, or a named operator for CLI acts. */
  actor?: string;
  /** Structured details of the act (decision, codes, counts, evidence ids). */
  detail?: Record<string, string | number | boolean | string[] | undefined>;
}

/** A stored record: the entry plus its place in the chain. */
export interface AuditRow {
  seq: number;
  entry: AuditEntry;
  prevHash: string;
  hash: string;
  /** The exact text the hash covers. */
  body: string;
}

/** Anything that runs a query: the pool, or a client inside a transaction. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * Canonical JSON (object keys sorted at every level, `undefined` left out): the same entry always
 * gives the same text, so `audit verify` can recompute every hash from the stored body.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The references an entry is about, indexed for `AuditEvent?entity=`: what was written, and the inputs. */
function entitiesOf(e: AuditEntry): string[] {
  return [...new Set([...(e.written ?? []), ...(e.inputsUsed ?? [])])];
}

/**
 * Appends one record to the chain (one round trip: `audit_append` takes the chain lock, links the
 * row to the newest one and hashes it, inside the caller's transaction when `q` is a client in one).
 * @returns the record's sequence number
 */
export async function appendAudit(q: Queryable, e: AuditEntry): Promise<number> {
  const body = canonicalJson(e);
  const r = await q.query<{ seq: string }>('SELECT audit_append($1, $2, $3, $4, $5, $6, $7, $8) AS seq', [
    e.recorded,
    e.action,
    e.source ?? null,
    e.patient ?? null,
    e.model ?? null,
    entitiesOf(e),
    e.actor ?? null,
    body,
  ]);
  return Number(r.rows[0].seq);
}

/** A stored row as read from the table. */
export function rowFrom(r: { seq: string | number; body: string; prev_hash: string; hash: string }): AuditRow {
  return {
    seq: Number(r.seq),
    entry: JSON.parse(r.body) as AuditEntry,
    prevHash: r.prev_hash,
    hash: r.hash,
    body: r.body,
  };
}
