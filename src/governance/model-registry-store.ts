import type { Database } from '../db/database.js';
import { inTransaction } from '../db/transaction.js';
import { appendAudit, type Queryable } from './audit-trail.js';

/** A model version's lifecycle stage: the three deployment modes, then retired or recalled (both write nothing). */
export type LifecycleMode = 'shadow' | 'preliminary' | 'final' | 'retired' | 'recalled';
export const LIFECYCLE_MODES: readonly LifecycleMode[] = ['shadow', 'preliminary', 'final', 'retired', 'recalled'];

/** One model id@version as the registry holds it. */
export interface VersionState {
  modelId: string;
  version: string;
  mode: LifecycleMode;
  /** True once an explicit act (promotion, retirement, recall) set the mode: the registry, not configuration, decides. */
  explicit: boolean;
  changedAt: string;
  changedBy?: string;
  evidence?: string;
  reason?: string;
  firstSeen: string;
}

interface Row {
  model_id: string;
  version: string;
  mode: LifecycleMode;
  explicit: boolean;
  changed_at: Date;
  changed_by: string | null;
  evidence: string | null;
  reason: string | null;
  first_seen: Date;
}

const fromRow = (r: Row): VersionState => ({
  modelId: r.model_id,
  version: r.version,
  mode: r.mode,
  explicit: r.explicit,
  changedAt: r.changed_at.toISOString(),
  changedBy: r.changed_by ?? undefined,
  evidence: r.evidence ?? undefined,
  reason: r.reason ?? undefined,
  firstSeen: r.first_seen.toISOString(),
});

/** `id@version` split at the last `@` (versions never contain one; ids cannot). */
export function parseModelRef(ref: string): { modelId: string; version: string } | undefined {
  const at = ref.lastIndexOf('@');
  if (at <= 0 || at === ref.length - 1) return undefined;
  return { modelId: ref.slice(0, at), version: ref.slice(at + 1) };
}

/**
 * The mode that applies: the registry's once an explicit act set it, else what configuration says
 * (MODELS_FILE / MODEL_MODE). The precedence documented in docs/governance.md.
 */
export function effectiveMode(state: Pick<VersionState, 'mode' | 'explicit'> | undefined, configured: LifecycleMode) {
  return state?.explicit ? state.mode : configured;
}

/**
 * Records the configured versions a process runs (and their configured modes) so that `models list`
 * shows them and a promotion can name them. Rows an explicit act owns are left alone.
 */
export async function registerConfigured(
  q: Queryable,
  versions: { modelId: string; version: string; mode: LifecycleMode }[],
): Promise<void> {
  for (const v of versions) {
    await q.query(
      `INSERT INTO model_versions (model_id, version, mode) VALUES ($1, $2, $3)
       ON CONFLICT (model_id, version) DO UPDATE SET mode = EXCLUDED.mode WHERE NOT model_versions.explicit`,
      [v.modelId, v.version, v.mode],
    );
  }
}

export async function getVersion(q: Queryable, modelId: string, version: string): Promise<VersionState | undefined> {
  const r = await q.query<Row>('SELECT * FROM model_versions WHERE model_id = $1 AND version = $2', [modelId, version]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** Every version, by model id then first seen. */
export async function listVersions(q: Queryable, modelId?: string): Promise<VersionState[]> {
  const r = await q.query<Row>(
    `SELECT * FROM model_versions ${modelId ? 'WHERE model_id = $1' : ''} ORDER BY model_id, first_seen, version`,
    modelId ? [modelId] : [],
  );
  return r.rows.map(fromRow);
}

/** A refused lifecycle change: the message says what to do instead. */
export class LifecycleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LifecycleError';
  }
}

export interface ModeChange {
  modelId: string;
  version: string;
  to: LifecycleMode;
  by: string;
  reason: string;
  evidence?: string;
  now?: Date;
}

const RANK: Partial<Record<LifecycleMode, number>> = { shadow: 0, preliminary: 1, final: 2 };

/** Why the change is not allowed, or undefined. Promotions go one step at a time and need evidence. */
export function refusal(from: LifecycleMode, c: ModeChange, recall = false): string | undefined {
  const ref = `${c.modelId}@${c.version}`;
  if (from === 'recalled') return `${ref} was recalled; a recalled version never runs again: deploy a new version`;
  if (c.to === 'recalled')
    return recall ? undefined : 'a recall is made with `fhir-assess models recall`, which also withdraws the outputs';
  if (from === 'retired' && c.to !== 'shadow')
    return `${ref} is retired; bring it back through shadow first (--to shadow), then promote it again`;
  const [a, b] = [RANK[from], RANK[c.to]];
  if (a !== undefined && b !== undefined && b > a) {
    if (b - a > 1) return `promote one step at a time: ${from} → ${from === 'shadow' ? 'preliminary' : 'final'} first`;
    if (!c.evidence) return `a promotion to ${c.to} needs --evidence (the id of the validation report it rests on)`;
  }
  return undefined;
}

/**
 * Changes a version's mode as one recorded act: the row (locked FOR UPDATE, which waits for write-backs
 * in flight that hold it FOR SHARE) and its audit record commit together. A version no process has run
 * cannot be promoted (it is most likely a typo). Repeating the current mode changes and records nothing.
 * @returns the state before and after
 */
export async function changeMode(
  db: Database,
  c: ModeChange,
  opts: { recall?: boolean } = {},
): Promise<{ before: VersionState; after: VersionState; changed: boolean }> {
  return inTransaction(db, async (client) => {
    const r = await client.query<Row>('SELECT * FROM model_versions WHERE model_id = $1 AND version = $2 FOR UPDATE', [
      c.modelId,
      c.version,
    ]);
    if (!r.rows[0]) {
      const known = (await listVersions(client, c.modelId)).map((v) => `${v.modelId}@${v.version}`);
      throw new LifecycleError(
        `no version ${c.modelId}@${c.version} has run here${known.length ? `; known: ${known.join(', ')}` : ' (see `fhir-assess models list`)'}`,
      );
    }
    const before = fromRow(r.rows[0]);
    if (before.mode === c.to && before.explicit) return { before, after: before, changed: false };
    const problem = refusal(before.mode, c, opts.recall);
    if (problem) throw new LifecycleError(problem);
    const now = c.now ?? new Date();
    const updated = await client.query<Row>(
      `UPDATE model_versions SET mode = $3, explicit = true, changed_at = $4, changed_by = $5, evidence = $6, reason = $7
       WHERE model_id = $1 AND version = $2 RETURNING *`,
      [c.modelId, c.version, c.to, now.toISOString(), c.by, c.evidence ?? null, c.reason],
    );
    await appendAudit(client, {
      action: c.to === 'recalled' ? 'recall' : 'promotion',
      recorded: now.toISOString(),
      model: `${c.modelId}@${c.version}`,
      mode: c.to,
      actor: c.by,
      detail: { from: before.mode, to: c.to, evidence: c.evidence, reason: c.reason },
    });
    return { before, after: fromRow(updated.rows[0]), changed: true };
  });
}
