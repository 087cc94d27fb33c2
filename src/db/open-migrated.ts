import type { Logger } from 'pino';
import { type Database, openDatabase } from './database.js';
import { migrate } from './migrate.js';
import { MIGRATIONS } from './migrations.js';

/**
 * Opens DATABASE_URL and brings its schema up to date before the service uses it. A database that
 * cannot be reached fails start-up with what to do, rather than losing durable records later.
 */
export async function openMigratedDatabase(url: string, logger: Logger): Promise<Database> {
  const db = openDatabase(url, (err) => logger.error({ err: err.message }, 'PostgreSQL idle client error'));
  try {
    const applied = await migrate(db, MIGRATIONS);
    if (applied.length) logger.info({ applied }, 'database migrations applied');
    return db;
  } catch (err) {
    await db.end().catch(() => {});
    const where = new URL(url);
    where.password = '';
    throw new Error(
      `DATABASE_URL (${where.host}${where.pathname}): ${(err as Error).message}. Check that PostgreSQL is running and the database exists, or unset DATABASE_URL.`,
    );
  }
}
