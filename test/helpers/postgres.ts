import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type Database, databaseAnswers, openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { MIGRATIONS } from '../../src/db/migrations.js';

export interface TestDatabase {
  url: string;
  how: 'testcontainers' | 'DATABASE_URL' | 'local';
  drop(): Promise<void>;
}

/** Where the local server is on the development machine and in CI (trust auth, user postgres). */
const LOCAL_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * A fresh, empty PostgreSQL database for one test file, never a mock: in a testcontainers Postgres
 * when a Docker engine exists, otherwise on the server at TEST_DATABASE_ADMIN_URL or the local
 * 127.0.0.1:5432. Each call creates its own database (`fa_test_<random>`), dropped by `drop()`.
 */
export async function useTestDatabase(): Promise<TestDatabase> {
  const { getContainerRuntimeClient, GenericContainer } = await import('testcontainers');
  const hasDocker = await getContainerRuntimeClient().then(
    () => true,
    () => false,
  );
  if (hasDocker) {
    const c = await new GenericContainer('postgres:15-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .start();
    const admin = `postgres://postgres@${c.getHost()}:${c.getMappedPort(5432)}/postgres`;
    for (let i = 0; i < 100 && !(await databaseAnswers(admin)); i++) await new Promise((r) => setTimeout(r, 200));
    return { ...(await createDatabase(admin)), how: 'testcontainers', drop: async () => void (await c.stop()) };
  }
  const admin = process.env.TEST_DATABASE_ADMIN_URL ?? LOCAL_ADMIN_URL;
  if (!(await databaseAnswers(admin)))
    throw new Error(
      `no PostgreSQL for tests at ${admin}: start one (trust auth for user postgres) or set TEST_DATABASE_ADMIN_URL`,
    );
  const db = await createDatabase(admin);
  return { ...db, how: process.env.TEST_DATABASE_ADMIN_URL ? 'DATABASE_URL' : 'local' };
}

async function createDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `fa_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

export interface MigratedTestDatabase {
  url: string;
  /** A pool on it, with the project's whole schema applied (src/db/migrations.ts). */
  db: Database;
  /** Ends the pool and drops the database. */
  close(): Promise<void>;
}

/** {@link useTestDatabase} with a pool open on it and every migration applied. */
export async function useMigratedTestDatabase(): Promise<MigratedTestDatabase> {
  const testDb = await useTestDatabase();
  const db = openDatabase(testDb.url);
  await migrate(db, MIGRATIONS);
  return {
    url: testDb.url,
    db,
    close: async () => {
      await db.end();
      await testDb.drop();
    },
  };
}
