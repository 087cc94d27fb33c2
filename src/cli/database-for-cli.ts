import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseAnswers } from '../db/database.js';

/** The local server used when DATABASE_URL is unset (the development machine, CI): trust auth, user postgres. */
const LOCAL_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** The database `all` and the governance commands share on the local server. */
export const LOCAL_DATABASE = 'fhir_assess';

export interface FoundDatabase {
  url: string;
  /** Where it came from, in words for the operator. */
  how: string;
  /** Drops a database made for this run only (the demo's); a no-op otherwise. */
  drop(): Promise<void>;
}

/**
 * DATABASE_URL when set; else the local PostgreSQL on 127.0.0.1:5432 if it answers, in the database
 * `name` (created when missing); else undefined: the caller runs without the audit trail and says so.
 */
export async function databaseFor(
  env: Record<string, string | undefined>,
  name = LOCAL_DATABASE,
): Promise<FoundDatabase | undefined> {
  if (env.DATABASE_URL) return { url: env.DATABASE_URL, how: 'DATABASE_URL', drop: async () => {} };
  if (!(await databaseAnswers(LOCAL_ADMIN_URL, 1000))) return undefined;
  await createIfMissing(name);
  const url = new URL(LOCAL_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    how: `local PostgreSQL on 127.0.0.1:5432, database ${name} (DATABASE_URL unset)`,
    drop: async () => {},
  };
}

/** A database of its own for one demo run, dropped by `drop()`; undefined without a local server or DATABASE_URL. */
export async function databaseForDemo(env: Record<string, string | undefined>): Promise<FoundDatabase | undefined> {
  if (env.DATABASE_URL) return databaseFor(env);
  const name = `fhir_assess_demo_${randomBytes(4).toString('hex')}`;
  const found = await databaseFor(env, name);
  if (!found) return undefined;
  return {
    ...found,
    how: `local PostgreSQL on 127.0.0.1:5432, database ${name} for this run`,
    drop: () => dropDatabase(name),
  };
}

/** Said when neither exists: what is missing and how to get it. */
export const NO_DATABASE =
  'no PostgreSQL (DATABASE_URL is unset and nothing answers on 127.0.0.1:5432): running WITHOUT the audit trail and model registry; ' +
  'reviews, promotions and recalls need one (set DATABASE_URL, or install PostgreSQL: sudo apt-get install -y postgresql)';

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: LOCAL_ADMIN_URL });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

async function createIfMissing(name: string): Promise<void> {
  await admin(async (c) => {
    const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return;
    // Two processes starting together: the loser's "already exists" is success too.
    await c.query(`CREATE DATABASE ${name}`).catch((err: { code?: string }) => {
      if (err.code !== '42P04' && err.code !== '23505') throw err;
    });
  });
}

async function dropDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => {});
}
