import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { changeMode, registerConfigured } from '../../src/governance/model-registry-store.js';
import { RegistryModelHistory } from '../../src/governance/registry-history.js';
import { type MigratedTestDatabase, useMigratedTestDatabase } from '../helpers/postgres.js';

describe("the console's model history from the registry", () => {
  let testDb: MigratedTestDatabase;
  let db: Database;
  beforeAll(async () => {
    testDb = await useMigratedTestDatabase();
    db = testDb.db;
  });
  afterAll(async () => {
    await testDb?.close();
  });

  it('When a version was promoted twice and another only configured, Then the history shows each act with who, why and evidence, and the configured one as such', async () => {
    await registerConfigured(db, [
      { modelId: 'cardio', version: '1.0.0', mode: 'shadow' },
      { modelId: 'cardio', version: '2.0.0', mode: 'shadow' },
    ]);
    const act = { modelId: 'cardio', version: '1.0.0', by: 'dr-lead', reason: 'validated on our population' };
    await changeMode(db, { ...act, to: 'preliminary', evidence: 'vr-1', now: new Date('2026-01-01T00:00:00Z') });
    await changeMode(db, { ...act, to: 'final', evidence: 'vr-2', now: new Date('2026-02-01T00:00:00Z') });
    const history = await new RegistryModelHistory(db).history('cardio');
    expect(history).toEqual([
      expect.objectContaining({ version: '2.0.0', mode: 'shadow', reason: expect.stringMatching(/as configured/) }),
      expect.objectContaining({
        version: '1.0.0',
        mode: 'preliminary',
        by: 'dr-lead',
        evidence: 'vr-1',
        at: '2026-01-01T00:00:00.000Z',
      }),
      expect.objectContaining({
        version: '1.0.0',
        mode: 'final',
        evidence: 'vr-2',
        reason: 'validated on our population',
      }),
    ]);
    expect(await new RegistryModelHistory(db).history('other')).toEqual([]);
  });
});
