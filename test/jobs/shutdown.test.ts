import { readFileSync } from 'node:fs';
import type { Bundle, ClinicalImpression } from '@medplum/fhirtypes';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { enqueueAssessment } from '../../src/jobs/assess-queue.js';
import { ASSESS_QUEUE } from '../../src/jobs/queue-names.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import type { Model } from '../../src/models/model.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { startService } from '../../src/service.js';
import { createLogger } from '../../src/util/logger.js';
import { poll } from '../api/api-fixture.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';

/** The embedded model, held at a gate so a job is provably in flight when shutdown starts. */
function gatedModel(): { model: Model; entered: Promise<void>; release: () => void } {
  const inner = createEmbeddedModel();
  let release = () => {};
  let signalEntered = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const entered = new Promise<void>((r) => (signalEntered = r));
  const model = Object.assign(Object.create(inner) as Model, {
    assess: async (...args: Parameters<Model['assess']>) => {
      signalEntered();
      await gate;
      return inner.assess(...args);
    },
  });
  return { model, entered, release };
}

describe('graceful shutdown (SIGTERM path: service.close)', () => {
  let redis: TestRedis;
  let sandbox: Sandbox;
  const prefix = `t-shutdown-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    redis = await useTestRedis();
    sandbox = await startSandbox({ logger: false });
  });
  afterAll(async () => {
    const q = new Queue(ASSESS_QUEUE, { connection: { url: redis.url }, prefix });
    await q.obliterate({ force: true }).catch(() => {});
    await q.close();
    await sandbox?.close();
    await redis?.stop();
  });

  it('When shutdown starts with a job in flight, Then HTTP closes first, the job finishes its whole write-back, and a queued job stays queued for the next worker', async () => {
    const ehr = new FhirClient({ baseUrl: sandbox.baseUrl });
    const fixture = JSON.parse(readFileSync('test/fixtures/goff-2013-white-male.bundle.json', 'utf8')) as Bundle;
    const patientId = (await ehr.transaction(fixture)).entry![0].response!.location!.split('/')[1];
    const cfg = loadConfig({
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: '0',
      AS_OF: '2021-04-01',
      ASSESS_CONCURRENCY: '1',
      EHR_RATE_LIMIT: '0',
      LOG_LEVEL: 'silent',
    });
    const gated = gatedModel();
    const service = await startService(cfg, { http: true, workers: true }, createLogger('silent'), [gated.model]);
    const inFlight = await enqueueAssessment(
      service.assessQueue,
      { source: 'ehr', patientId, trigger: 'api', priority: 'api' },
      0,
    );
    const queued = await enqueueAssessment(
      service.assessQueue,
      { source: 'ehr', patientId: 'not-started', trigger: 'api', priority: 'api' },
      0,
    );
    await gated.entered;

    let closed = false;
    const closing = service.close().then(() => (closed = true));
    // HTTP goes first: new connections are refused while the job is still running.
    await poll(
      async () => ((await fetch(`${service.url}/healthz`).catch(() => 'refused')) === 'refused' ? true : undefined),
      10_000,
      'HTTP to close',
    );
    expect(closed).toBe(false); // the worker is waiting for its in-flight job
    gated.release();
    await closing;

    const q = new Queue(ASSESS_QUEUE, { connection: { url: redis.url }, prefix });
    try {
      const done = await q.getJob(String(inFlight.id));
      expect(await done!.getState()).toBe('completed');
      expect(done!.returnvalue.assessments[0].created).toBeGreaterThan(0);
      expect(await (await q.getJob(String(queued.id)))!.getState()).toBe('prioritized'); // returned, not lost
    } finally {
      await q.close();
    }
    // The write-back is whole: one of each output, linked together.
    const [ra] = await ehr.searchAll('RiskAssessment', { subject: `Patient/${patientId}` });
    const cis = await ehr.searchAll<ClinicalImpression>('ClinicalImpression', { subject: `Patient/${patientId}` });
    expect(cis).toHaveLength(1);
    expect(cis[0].prognosisReference?.[0].reference).toBe(`RiskAssessment/${ra.id}`);
    expect(await ehr.searchAll('Provenance', { target: `RiskAssessment/${ra.id}` })).toHaveLength(1);
  });
});
