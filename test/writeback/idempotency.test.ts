import type { Device } from '@medplum/fhirtypes';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { type WriteBackResult, writeBack } from '../../src/writeback/write-back.js';
import { assessGoff, deleteKeys, type Harness, seedGoffPatient, startHarness, storedFor } from './harness.js';

/** Every create in the sandbox waits this long between "no match" and insert: a slow, non-atomic EHR. */
const RACE_WINDOW_MS = 150;

/**
 * Idempotency under retries, duplicate deliveries and concurrency. The sandbox is made racy on
 * purpose (createDelayMs), like an EHR whose conditional create is not atomic: the control test shows
 * two concurrent conditional creates then both insert, so exactly-one below is the write-back's doing.
 */
describe('write-back idempotency: retries, duplicates and racing workers', () => {
  let h: Harness;
  let patientId: string;

  beforeAll(async () => {
    h = await startHarness('idem', { createDelayMs: RACE_WINDOW_MS });
    patientId = await seedGoffPatient(h.sandbox);
  });
  afterAll(async () => h?.close());

  const devicesWith = (value: string) =>
    [...h.sandbox.repo.resourcesOf('Device')].filter((d) => (d as Device).identifier?.some((i) => i.value === value));
  const exactlyOneOfEach = (key: string) =>
    expect(
      ['RiskAssessment', 'ClinicalImpression', 'Provenance'].map((t) => storedFor(h.sandbox, t, key).length),
    ).toEqual([1, 1, 1]);

  it('When two plain conditional creates of the same identifier run concurrently on this EHR, Then it stores two (the race is real)', async () => {
    const device: Device = { resourceType: 'Device', identifier: [{ system: 'urn:test:race', value: 'control' }] };
    await Promise.all([1, 2].map(() => h.client.create(device, 'identifier=urn:test:race|control')));
    expect(devicesWith('control')).toHaveLength(2);
  });

  it('When the same assessment is delivered three times (three workers with cold caches), Then exactly one of each resource exists', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'three-times');
    const results: WriteBackResult[] = [];
    for (const worker of ['a', 'b', 'c']) {
      // A fresh key prefix per delivery: no cached Device id, so every delivery runs the conditional creates.
      results.push(
        await writeBack(
          new FhirClient({ baseUrl: h.sandbox.baseUrl }),
          input,
          h.deps({ keyPrefix: `${h.prefix}-${worker}` }),
        ),
      );
    }
    expect(results.map((r) => [r.created, r.existing])).toEqual([
      [3, 0],
      [0, 3],
      [0, 3],
    ]);
    expect(new Set(results.map((r) => r.written.join()))).toHaveProperty('size', 1);
    exactlyOneOfEach(key);
    expect(devicesWith('fhir-assess-risk-equations@0.1.0')).toHaveLength(1);
    expect(devicesWith('fhir-assess-service@0.1.0')).toHaveLength(1);
    for (const worker of ['a', 'b', 'c']) await deleteKeys(h.conn, `${h.prefix}-${worker}:*`);
  });

  it('When six write-backs of one assessment of a new model version race through separate clients and Redis connections, Then exactly one of each resource exists, Devices included', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'six-racers');
    const output = { ...input.output, modelVersion: '0.2.0-race' }; // its Device does not exist yet
    const conns = [0, 1, 2, 3, 4, 5].map(() => new Redis(h.redis.url, { maxRetriesPerRequest: 1 }));
    try {
      const results = await Promise.all(
        conns.map((conn) =>
          writeBack(new FhirClient({ baseUrl: h.sandbox.baseUrl }), { ...input, output }, h.deps({ redis: conn })),
        ),
      );
      expect(results.reduce((n, r) => n + r.created, 0)).toBe(3);
      expect(results.reduce((n, r) => n + r.existing, 0)).toBe(15);
      expect(new Set(results.map((r) => r.written.join()))).toHaveProperty('size', 1);
    } finally {
      for (const c of conns) c.disconnect();
    }
    exactlyOneOfEach(key);
    expect(devicesWith('fhir-assess-risk-equations@0.2.0-race')).toHaveLength(1);
  });

  it('When the same race runs without a shared lock (each racer its own key prefix), Then copies appear: the lock is what prevents them (control)', async () => {
    const { input, key } = await assessGoff(h.client, patientId, 'no-shared-lock');
    const output = { ...input.output, modelVersion: '0.3.0-control' };
    const results = await Promise.allSettled(
      [1, 2, 3].map((n) =>
        writeBack(
          new FhirClient({ baseUrl: h.sandbox.baseUrl }),
          { ...input, output },
          h.deps({ keyPrefix: `${h.prefix}-nolock-${n}` }),
        ),
      ),
    );
    expect(results.some((r) => r.status === 'fulfilled')).toBe(true); // later racers may also hit 412 multiple matches
    expect(storedFor(h.sandbox, 'RiskAssessment', key).length).toBeGreaterThan(1);
    expect(devicesWith('fhir-assess-risk-equations@0.3.0-control').length).toBeGreaterThan(1);
    for (const n of [1, 2, 3]) await deleteKeys(h.conn, `${h.prefix}-nolock-${n}:*`);
  });

  it('When two real BullMQ workers process two jobs for the same assessment at once, Then exactly one of each resource exists', async () => {
    const connection = { url: h.redis.url, maxRetriesPerRequest: null };
    const prefix = `${h.prefix}-bull`;
    const queue = new Queue('wb-race', { connection, prefix });
    const events = new QueueEvents('wb-race', { connection, prefix });
    const workers = [1, 2].map((n) => {
      const client = new FhirClient({ baseUrl: h.sandbox.baseUrl });
      const conn = new Redis(h.redis.url, { maxRetriesPerRequest: 1 });
      const worker = new Worker(
        'wb-race',
        async (job) => {
          const { input } = await assessGoff(client, job.data.patientId, job.data.variant);
          const r = await writeBack(client, input, h.deps({ redis: conn }));
          return { created: r.created, existing: r.existing, key: input.key, worker: n };
        },
        { connection, prefix, concurrency: 1 },
      );
      return { worker, conn };
    });
    try {
      await events.waitUntilReady();
      const jobs = await queue.addBulk(
        ['job-1', 'job-2'].map((jobId) => ({ name: 'write', data: { patientId, variant: 'bullmq' }, opts: { jobId } })),
      );
      const done = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 30_000)));
      expect(done.map((d) => d.created).sort()).toEqual([0, 3]);
      expect(done.map((d) => d.existing).sort()).toEqual([0, 3]);
      exactlyOneOfEach(done[0].key);
    } finally {
      for (const w of workers) {
        await w.worker.close();
        w.conn.disconnect();
      }
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
