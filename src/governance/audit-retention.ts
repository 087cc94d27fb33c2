import type { Database } from '../db/database.js';
import { inTransaction } from '../db/transaction.js';
import { appendAudit } from './audit-trail.js';
import { AUDIT_CHAIN_LOCK, AUDIT_PURGE_SETTING } from './schema.js';

export interface PurgeResult {
  removed: number;
  /** Newest sequence number removed, when anything was. */
  upToSeq?: number;
}

/**
 * Removes the records older than the retention, oldest first, as one prefix of the chain (the
 * newest record older than the cut-off and everything before it), so what remains still verifies:
 * the hash of the last removed record becomes the anchor the chain continues from, and the purge is
 * itself appended to the trail. The only path the append-only trigger lets delete (SET LOCAL).
 */
export async function purgeAudit(db: Database, retentionDays: number, now = new Date()): Promise<PurgeResult> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000).toISOString();
  return inTransaction(db, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_CHAIN_LOCK]); // no append in between
    const last = (
      await client.query<{ seq: string; hash: string }>(
        'SELECT seq, hash FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events WHERE recorded < $1)',
        [cutoff],
      )
    ).rows[0];
    if (!last) return { removed: 0 };
    await client.query(`SET LOCAL ${AUDIT_PURGE_SETTING} = 'on'`);
    const removed = (await client.query('DELETE FROM audit_events WHERE seq <= $1', [last.seq])).rowCount ?? 0;
    await client.query(
      `INSERT INTO audit_chain_anchor (id, last_seq, last_hash, purged_at) VALUES (1, $1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET last_seq = $1, last_hash = $2, purged_at = $3`,
      [last.seq, last.hash, now.toISOString()],
    );
    await appendAudit(client, {
      action: 'retention-purge',
      recorded: now.toISOString(),
      detail: { removed, upToSeq: Number(last.seq), anchorHash: last.hash, retentionDays, cutoff },
    });
    return { removed, upToSeq: Number(last.seq) };
  });
}
