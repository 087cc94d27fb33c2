import pg from 'pg';

/** A PostgreSQL pool for durable records (the audit trail, validation reports). */
export type Database = pg.Pool;

/**
 * Opens a pool on DATABASE_URL. Why a pool and not one client: the audit trail is written from
 * concurrent assessments and read by the API at the same time. An idle client's error (the server
 * restarted) is logged by the caller's handler instead of crashing the process.
 * @param url - `postgres://user@host:port/db`
 * @param onError - called with errors of idle clients
 */
export function openDatabase(url: string, onError: (err: Error) => void = () => {}): Database {
  const pool = new pg.Pool({ connectionString: url, max: 8, idleTimeoutMillis: 30_000 });
  pool.on('error', onError);
  return pool;
}

/** Resolves true when a PostgreSQL server accepts a connection at `url` within `timeoutMs`. */
export async function databaseAnswers(url: string, timeoutMs = 2000): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
