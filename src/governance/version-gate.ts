import type pg from 'pg';
import type { Database } from '../db/database.js';
import { inTransaction } from '../db/transaction.js';
import type { WriteBackResult } from '../writeback/write-back.js';
import type { GateMode, StoppedMode, WriteGate } from '../writeback/write-gate.js';
import { type AuditEntry, appendAudit } from './audit-trail.js';
import { effectiveMode, type LifecycleMode } from './model-registry-store.js';

/** Longest a write-back waits for the version row (a promotion or recall committing), before failing to retry. */
const LOCK_TIMEOUT = '30s';

interface GateRow {
  mode: LifecycleMode;
  explicit: boolean;
}

/**
 * The registry check under the write lock, for one assessment of one model version. In one
 * PostgreSQL transaction: the version's row is read `FOR SHARE` (a promotion or recall, which
 * updates it, waits until this write is done, and every write after it sees the new mode); the
 * write-back runs in the mode that applies now; its audit record is appended; commit. A stopped
 * version writes nothing and its blocked inference is audited.
 * @param audit - the audit record of the result (references and values only)
 */
export function versionGate(
  db: Database,
  version: { modelId: string; version: string; configured: LifecycleMode },
  audit: (result: WriteBackResult | StoppedMode, mode: LifecycleMode) => AuditEntry,
): WriteGate {
  return {
    run: (write) =>
      inTransaction(
        db,
        async (client) => {
          const row = await lockRow(client, version.modelId, version.version, version.configured);
          const mode = effectiveMode(row, version.configured);
          if (mode === 'retired' || mode === 'recalled') {
            await appendAudit(client, audit(mode, mode));
            return mode as StoppedMode;
          }
          const result = await write(mode as GateMode);
          await appendAudit(client, audit(result, mode));
          return result;
        },
        `BEGIN; SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`,
      ),
  };
}

type Client = pg.PoolClient;

/** The version's row, share-locked; created first (from configuration) when no process registered it yet. */
async function lockRow(client: Client, modelId: string, version: string, configured: LifecycleMode): Promise<GateRow> {
  const select = 'SELECT mode, explicit FROM model_versions WHERE model_id = $1 AND version = $2 FOR SHARE';
  const found = await client.query<GateRow>(select, [modelId, version]);
  if (found.rows[0]) return found.rows[0];
  await client.query(
    'INSERT INTO model_versions (model_id, version, mode) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
    [modelId, version, configured],
  );
  return (await client.query<GateRow>(select, [modelId, version])).rows[0];
}
