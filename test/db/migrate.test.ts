import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/database.js';
import { migrate } from '../../src/db/migrate.js';
import { type TestDatabase, useTestDatabase } from '../helpers/postgres.js';

describe('migrate', () => {
  let testDb: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    testDb = await useTestDatabase();
    db = openDatabase(testDb.url);
  });
  afterAll(async () => {
    await db?.end();
    await testDb?.drop();
  });

  const migrations = [
    { id: '001-things', sql: 'CREATE TABLE things (id int PRIMARY KEY)' },
    { id: '002-thing-name', sql: 'ALTER TABLE things ADD COLUMN name text' },
  ];

  it('When run twice, or by several processes at once, Then each migration is applied exactly once', async () => {
    const runs = await Promise.all([migrate(db, migrations), migrate(db, migrations), migrate(db, migrations)]);
    expect(runs.flat().sort()).toEqual(['001-things', '002-thing-name']);
    expect(await migrate(db, migrations)).toEqual([]);
    const cols = await db.query("SELECT column_name FROM information_schema.columns WHERE table_name = 'things'");
    expect(cols.rows.map((r) => r.column_name).sort()).toEqual(['id', 'name']);
  });

  it('When a migration fails, Then it is rolled back, not recorded, and the error names it', async () => {
    const bad = [...migrations, { id: '003-bad', sql: 'CREATE TABLE bad (id int); SELECT no_such_function()' }];
    await expect(migrate(db, bad)).rejects.toThrow(/migration 003-bad failed/);
    const tables = await db.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'bad'");
    expect(tables.rowCount).toBe(0);
    const ids = await db.query('SELECT id FROM schema_migrations ORDER BY id');
    expect(ids.rows.map((r) => r.id)).toEqual(['001-things', '002-thing-name']);
  });
});

describe('openMigratedDatabase', () => {
  it('When PostgreSQL cannot be reached, Then start-up fails with where and what to do, without the password', async () => {
    const { openMigratedDatabase } = await import('../../src/db/open-migrated.js');
    const { pino } = await import('pino');
    await expect(
      openMigratedDatabase('postgres://u:secret-pw@127.0.0.1:1/nowhere', pino({ level: 'silent' })),
    ).rejects.toThrow(/DATABASE_URL \(127\.0\.0\.1:1\/nowhere\).*Check that PostgreSQL is running/s);
    await expect(
      openMigratedDatabase('postgres://u:secret-pw@127.0.0.1:1/nowhere', pino({ level: 'silent' })),
    ).rejects.not.toThrow(/secret-pw/);
  });
});
