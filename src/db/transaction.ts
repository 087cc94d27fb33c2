import type pg from 'pg';
import type { Database } from './database.js';

/**
 * Runs `work` in one transaction on a client of its own: committed when it resolves, rolled back
 * when it throws (the error is rethrown), the client always released.
 * @param begin - the opening statement(s), e.g. `BEGIN; SET LOCAL lock_timeout = '30s'` (one round trip)
 */
export async function inTransaction<T>(
  db: Database,
  work: (client: pg.PoolClient) => Promise<T>,
  begin = 'BEGIN',
): Promise<T> {
  const client = await db.connect();
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
