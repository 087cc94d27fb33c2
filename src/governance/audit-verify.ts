import { createHash } from 'node:crypto';
import { type AuditEntry, canonicalJson, type Queryable } from './audit-trail.js';
import { GENESIS_HASH } from './schema.js';

/** Rows read per round trip while verifying. */
const PAGE = 2000;

export interface ChainReport {
  ok: boolean;
  /** Records checked. */
  checked: number;
  /** Sequence number and hash of the newest record: record them elsewhere to detect a cut-off tail later. */
  head?: { seq: number; hash: string };
  /** Where the chain starts (genesis, or the anchor a retention purge left). */
  startsAfter?: { seq: number; hash: string };
  /** The first broken record and what is wrong with it. */
  broken?: { seq: number; problem: string };
}

interface Row {
  seq: string;
  recorded: Date;
  action: string;
  source: string | null;
  patient: string | null;
  model: string | null;
  entities: string[];
  actor: string | null;
  body: string;
  prev_hash: string;
  hash: string;
}

/**
 * Checks the whole chain in order: each record's hash is sha256(prev_hash || body), each prev_hash is
 * the hash of the record before it (the first one: the purge anchor, or the genesis hash), the body is
 * canonical JSON, and the query columns agree with the body. Any edit of a stored row, a deleted row
 * in the middle or a re-ordered row breaks it. What it cannot see by itself: rows cut off at the newest
 * end; compare `head` with a value recorded earlier (docs/governance.md).
 */
export async function verifyChain(q: Queryable): Promise<ChainReport> {
  const anchor = (
    await q.query<{ last_seq: string; last_hash: string }>('SELECT last_seq, last_hash FROM audit_chain_anchor')
  ).rows[0];
  const startsAfter = anchor ? { seq: Number(anchor.last_seq), hash: anchor.last_hash } : undefined;
  let prev = startsAfter?.hash ?? GENESIS_HASH;
  let checked = 0;
  let after = -1;
  let head: ChainReport['head'];
  for (;;) {
    const rows = (
      await q.query<Row>(
        `SELECT seq, recorded, action, source, patient, model, entities, actor, body, prev_hash, hash
         FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT ${PAGE}`,
        [after],
      )
    ).rows;
    for (const r of rows) {
      const problem = rowProblem(r, prev);
      if (problem) return { ok: false, checked, head, startsAfter, broken: { seq: Number(r.seq), problem } };
      prev = r.hash;
      checked++;
      head = { seq: Number(r.seq), hash: r.hash };
    }
    if (rows.length < PAGE) return { ok: true, checked, head, startsAfter };
    after = Number(rows[rows.length - 1].seq);
  }
}

function rowProblem(r: Row, prev: string): string | undefined {
  if (r.prev_hash !== prev)
    return `prev_hash does not match the record before it (a record was removed, inserted or changed)`;
  const hash = createHash('sha256')
    .update(r.prev_hash + r.body, 'utf8')
    .digest('hex');
  if (hash !== r.hash) return 'hash does not match the body (the record was changed)';
  let e: AuditEntry;
  try {
    e = JSON.parse(r.body) as AuditEntry;
  } catch {
    return 'body is not JSON';
  }
  if (canonicalJson(e) !== r.body) return 'body is not in canonical form';
  const columns: [string, unknown, unknown][] = [
    ['action', r.action, e.action],
    ['source', r.source, e.source ?? null],
    ['patient', r.patient, e.patient ?? null],
    ['model', r.model, e.model ?? null],
    ['actor', r.actor, e.actor ?? null],
    ['recorded', r.recorded.getTime(), Date.parse(e.recorded)],
  ];
  const wrong = columns.find(([, col, body]) => col !== body);
  if (wrong) return `column ${wrong[0]} differs from the hashed body (the record was changed)`;
  const entities = new Set([...(e.written ?? []), ...(e.inputsUsed ?? [])]);
  if (r.entities.length !== entities.size || r.entities.some((x) => !entities.has(x)))
    return 'column entities differs from the hashed body (the record was changed)';
  return undefined;
}
