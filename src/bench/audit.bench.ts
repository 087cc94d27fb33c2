import type { Observation } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { type AssessDeps, assessPatient } from '../assessment/assess-patient.js';
import { databaseForDemo } from '../cli/database-for-cli.js';
import { redisForDemo } from '../cli/redis-for-demo.js';
import { loadConfig } from '../config/config.js';
import type { Database } from '../db/database.js';
import { openMigratedDatabase } from '../db/open-migrated.js';
import { loadFhirDefinitions } from '../fhir/definitions.js';
import { SourceRegistry } from '../fhir/source-client.js';
import { startGovernance } from '../governance/governance.js';
import { createEmbeddedModel } from '../models/embedded-model.js';
import { PROJECT_ROOT } from '../paths.js';
import { startSandbox } from '../sandbox/index.js';
import { createLogger } from '../util/logger.js';
import { type Bench, percentile } from './bench.js';

/** Assessments per variant, interleaved with the other variant (bounded again by PHASE_LIMIT_MS). */
const RUNS = 20;
/** Upper bound on the measured phase: 60 s. */
const PHASE_LIMIT_MS = 60_000;
const FIXTURE = `${PROJECT_ROOT}/test/fixtures/goff-2013-white-male.bundle.json`;

type Done = (err: Error | undefined, client?: pg.PoolClient, release?: () => void) => void;

/**
 * Counts every statement sent to PostgreSQL through the pool: clients checked out with
 * `await db.connect()` (the gate's transaction) and by the pool itself (`db.query`, callback style).
 */
function countStatements(db: Database): { statements: number } {
  const counter = { statements: 0 };
  const connect = db.connect.bind(db) as (cb?: Done) => Promise<pg.PoolClient> | undefined;
  (db as unknown as { connect: (cb?: Done) => unknown }).connect = (cb?: Done) => {
    if (cb) return connect((err, client, release) => cb(err, client && counted(client, counter), release));
    return connect()?.then((client) => counted(client, counter));
  };
  return counter;
}

function counted(client: pg.PoolClient, counter: { statements: number }): pg.PoolClient {
  if ((client as unknown as { counted?: boolean }).counted) return client;
  const query = client.query.bind(client) as (...a: unknown[]) => unknown;
  (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...args: unknown[]) => {
    counter.statements++;
    return query(...args);
  };
  (client as unknown as { counted: boolean }).counted = true;
  return client;
}

/**
 * What the audit trail costs per assessment: the same full assessment (record, model, write-back
 * with superseding; a new lab result before each one so every run writes) with and without the
 * governance gate (registry row lock, audit append, one transaction), interleaved so both see the
 * same machine. Reports PostgreSQL statements and rows per assessment and the latency ratio.
 */
export const bench: Bench = {
  name: 'audit',
  title: 'audit trail and registry gate: PostgreSQL writes per assessment, latency with / without',
  async run(log): Promise<Record<string, number | string>> {
    const database = await databaseForDemo(process.env);
    if (!database) {
      log('skipped: no PostgreSQL (set DATABASE_URL or start one on 127.0.0.1:5432)');
      return { skipped: 'no PostgreSQL' };
    }
    loadFhirDefinitions();
    const redisInfo = await redisForDemo();
    const sandbox = await startSandbox({ logger: false });
    const redis = new Redis(redisInfo.url, { maxRetriesPerRequest: 1 });
    const prefix = `bench-audit-${process.pid}-${Date.now()}`;
    const logger = createLogger('silent');
    const db = await openMigratedDatabase(database.url, logger);
    const model = createEmbeddedModel();
    const governance = await startGovernance(db, {
      redisUrl: redisInfo.url,
      prefix,
      logger,
      versions: [{ modelId: model.id, version: model.version, mode: 'preliminary' }],
      retentionDays: 3650,
    });
    try {
      await sandbox.loadFile(FIXTURE);
      const patientId = [...sandbox.repo.resourcesOf('Patient')][0].id;
      const cfg = loadConfig({ FHIR_BASE_URL: sandbox.baseUrl, SOURCE_NAME: 'bench', EHR_RATE_LIMIT: '0' });
      const deps: AssessDeps = {
        sources: new SourceRegistry(cfg.sources),
        redis,
        models: [model],
        mode: 'preliminary',
        asOf: () => new Date('2021-04-01T00:00:00Z'),
        keyPrefix: prefix,
        serviceVersion: 'bench',
        logger,
      };
      const counter = countStatements(db);
      const times = { without: [] as number[], with: [] as number[] };
      const rowsBefore = await auditRows(db);
      const deadline = Date.now() + PHASE_LIMIT_MS;
      let n = 0;
      let statements = 0;
      for (; n < RUNS * 2 && Date.now() < deadline; n++) {
        // ABBA order: whatever favours the first (or second) run of a pair favours neither variant.
        const withTrail = n % 4 === 0 || n % 4 === 3;
        await newLabResult(sandbox.repo, patientId, n);
        const before = counter.statements;
        const t0 = performance.now();
        await assessPatient(withTrail ? { ...deps, governance } : deps, 'bench', patientId);
        (withTrail ? times.with : times.without).push(performance.now() - t0);
        if (withTrail) statements += counter.statements - before;
      }
      const assessed = times.with.length;
      const rows = (await auditRows(db)) - rowsBefore;
      const median = { without: percentile(times.without, 50), with: percentile(times.with, 50) };
      const ratio = median.with / median.without;
      log(
        `${assessed} assessments with the trail, ${times.without.length} without, interleaved ABBA (a new lab result before each)`,
      );
      log('| | median ms per assessment | PostgreSQL statements | audit rows written |');
      log('|---|---:|---:|---:|');
      log(`| without the trail | ${median.without.toFixed(1)} | 0 | 0 |`);
      log(
        `| with the trail | ${median.with.toFixed(1)} | ${(statements / assessed).toFixed(1)} | ${(rows / assessed).toFixed(1)} |`,
      );
      log(`latency ratio with / without: ${ratio.toFixed(3)} (same run, same machine; medians)`);
      return {
        statementsPerAssessment: Number((statements / assessed).toFixed(1)),
        auditRowsPerAssessment: Number((rows / assessed).toFixed(1)),
        latencyRatioWithTrail: Number(ratio.toFixed(3)),
        medianMsWithout: Number(median.without.toFixed(1)),
        medianMsWith: Number(median.with.toFixed(1)),
      };
    } finally {
      await governance.close();
      await db.end();
      for (const k of await redis.keys(`${prefix}:*`)) await redis.del(k);
      redis.disconnect();
      await sandbox.close();
      await redisInfo.stop();
      await database.drop();
    }
  },
};

async function auditRows(db: Database): Promise<number> {
  return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events')).rows[0].n);
}

/** A new total cholesterol result: the record changes, so the next assessment writes (and supersedes). */
async function newLabResult(
  repo: { createResource<T extends Observation>(r: T): Promise<T> },
  patientId: string,
  n: number,
): Promise<void> {
  await repo.createResource<Observation>({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }], text: 'Total Cholesterol' },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime: new Date(Date.UTC(2021, 2, 1, 0, n)).toISOString(),
    valueQuantity: { value: 200 + n, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
  });
}
