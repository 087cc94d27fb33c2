import type { Database } from './database.js';

/** One schema change. Ids are applied in array order, once each, and never edited after release. */
export interface Migration {
  id: string;
  sql: string;
}

/** Advisory lock key (any constant bigint): concurrent `serve`/`worker` start-ups migrate one at a time. */
const MIGRATION_LOCK = 4_201_777;

/**
 * Applies the migrations not yet recorded in `schema_migrations`, each in its own transaction, under
 * an advisory lock so that several processes starting together do not race.
 * @returns the ids applied by this call
 */
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<string[]> {
  const client = await db.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await client.query<{ id: string }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id),
    );
    for (const m of migrations) {
      if (done.has(m.id)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (id) VALUES ($1)', [m.id]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.id} failed: ${(err as Error).message}`);
      }
      applied.push(m.id);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
