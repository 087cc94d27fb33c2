import type { Database } from '../db/database.js';
import { openMigratedDatabase } from '../db/open-migrated.js';
import { createLogger } from '../util/logger.js';
import type { CliIo } from './backfill.js';
import { databaseFor } from './database-for-cli.js';

/** The governance commands cannot work without the database: this says why and what to do. */
export class NoDatabaseError extends Error {
  constructor() {
    super(
      'the model registry and audit trail live in PostgreSQL: set DATABASE_URL (the same one the service uses), or start a local PostgreSQL on 127.0.0.1:5432',
    );
    this.name = 'NoDatabaseError';
  }
}

/**
 * The database the governance commands use: DATABASE_URL, else the local server's `fhir_assess`
 * (the one `fhir-assess all` uses without DATABASE_URL), migrated. Says on stderr when it is the local one.
 */
export async function openGovernanceDb(env: Record<string, string | undefined>, io: CliIo): Promise<Database> {
  const found = await databaseFor(env);
  if (!found) throw new NoDatabaseError();
  if (found.how !== 'DATABASE_URL') io.err.write(`using the ${found.how}\n`);
  return openMigratedDatabase(found.url, createLogger('silent'));
}
