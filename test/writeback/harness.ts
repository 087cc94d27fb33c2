import type { Resource } from '@medplum/fhirtypes';
import { Redis } from 'ioredis';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import type { ModelOutput } from '../../src/models/model.js';
import { recordFromBundle } from '../../src/models/record-from-bundle.js';
import type { EhrQuirks } from '../../src/sandbox/ehr-quirks.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { assessmentKey } from '../../src/writeback/idempotency-key.js';
import type { WriteBackDeps, WriteBackInput } from '../../src/writeback/write-back.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

/** The resource types a write-back creates. */
export const OUTPUT_TYPES = ['RiskAssessment', 'ClinicalImpression', 'Provenance', 'Device'] as const;

/** One sandbox EHR, one real Redis and a key prefix of its own, for one test file. */
export interface Harness {
  sandbox: Sandbox;
  redis: TestRedis;
  /** A Redis connection for the write-back (locks, device cache, shadow store). */
  conn: Redis;
  prefix: string;
  client: FhirClient;
  deps(over?: Partial<WriteBackDeps>): WriteBackDeps;
  close(): Promise<void>;
}

export async function startHarness(name: string, quirks?: EhrQuirks): Promise<Harness> {
  const redis = await useTestRedis();
  const sandbox = await startSandbox({ logger: false, quirks });
  const conn = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  const prefix = `test-wb-${name}-${process.pid}-${Date.now()}`;
  return {
    sandbox,
    redis,
    conn,
    prefix,
    client: new FhirClient({ baseUrl: sandbox.baseUrl }),
    deps: (over) => ({ redis: conn, keyPrefix: prefix, source: 'ehr', ...over }),
    close: async () => {
      await deleteKeys(conn, `${prefix}:*`);
      conn.disconnect();
      await sandbox.close();
      await redis.stop();
    },
  };
}

/** Deletes every key matching the pattern (SCAN, bounded batches). */
export async function deleteKeys(conn: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await conn.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    if (keys.length) await conn.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

/** Loads the Goff 2013 worked-example patient (55 y white male: 5.38 %) into the sandbox; returns its id. */
export async function seedGoffPatient(sandbox: Sandbox): Promise<string> {
  // Bulk load, not a transaction: the no-transaction sandbox must be seeded too.
  const result = await sandbox.loadFile('test/fixtures/goff-2013-white-male.bundle.json');
  const patients = [...sandbox.repo.resourcesOf('Patient')];
  if (result.patients !== 1 || patients.length !== 1) throw new Error('expected the one Goff patient');
  return patients[0].id;
}

/** The embedded model's output for the patient's current record, and an assessment key for it. */
export async function assessGoff(
  client: FhirClient,
  patientId: string,
  recordVariant = '',
): Promise<{ output: ModelOutput; key: string; input: WriteBackInput }> {
  const resources = await client.searchAll<Resource>(`Patient/${patientId}/$everything`);
  const record = recordFromBundle({
    resourceType: 'Bundle',
    type: 'searchset',
    entry: resources.map((resource) => ({ resource })),
  });
  const model = createEmbeddedModel();
  const asOf = new Date('2021-04-01T00:00:00Z');
  const output = await model.assess(record, { asOf });
  // A variant stands for "the record changed": a different record hash, so a different assessment.
  const key = assessmentKey(patientId, model.id, model.version, record.hash + recordVariant);
  const input: WriteBackInput = {
    patientId,
    key,
    output,
    modelTitle: model.title,
    mode: 'preliminary',
    asOf,
    serviceVersion: '0.1.0',
  };
  return { output, key, input };
}

/** How many resources of each output type the sandbox holds. */
export function countOutputs(sandbox: Sandbox): Record<(typeof OUTPUT_TYPES)[number], number> {
  return Object.fromEntries(OUTPUT_TYPES.map((t) => [t, sandbox.repo.count(t)])) as Record<
    (typeof OUTPUT_TYPES)[number],
    number
  >;
}

/** The stored resources of a type whose identifier (or, for Provenance, tag) carries the assessment key. */
export function storedFor(sandbox: Sandbox, type: string, key: string): Resource[] {
  return [...sandbox.repo.resourcesOf(type)].filter((r) => JSON.stringify(r).includes(key));
}

/**
 * Another patient with the Goff patient's record (new ids, references rewritten), stored directly
 * in the sandbox's repository: a fresh chart per test without a new sandbox.
 */
export async function cloneGoffPatient(sandbox: Sandbox, goffId: string): Promise<string> {
  const source = sandbox.repo.peek<Resource>('Patient', goffId);
  if (!source) throw new Error(`no Patient/${goffId} to clone`);
  const { id: _id, meta: _meta, ...patient } = source;
  const created = await sandbox.repo.createResource(patient as Resource);
  const from = `Patient/${goffId}`;
  for (const type of ['Observation', 'Condition', 'MedicationRequest', 'Procedure', 'Encounter']) {
    for (const r of [...sandbox.repo.resourcesOf(type)]) {
      const text = JSON.stringify(r);
      if (!text.includes(`"${from}"`)) continue;
      const { id: _rid, meta: _rmeta, ...copy } = JSON.parse(text.replaceAll(`"${from}"`, `"Patient/${created.id}"`));
      await sandbox.repo.createResource(copy as Resource);
    }
  }
  return created.id as string;
}
