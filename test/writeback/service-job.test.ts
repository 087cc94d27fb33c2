import type { Bundle, ClinicalImpression, Observation, RiskAssessment } from '@medplum/fhirtypes';
import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { AssessJobResult } from '../../src/jobs/assess-queue.js';
import { ASSESS_QUEUE } from '../../src/jobs/queue-names.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningService, startService } from '../../src/service.js';
import { createLogger } from '../../src/util/logger.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { storedFor } from './harness.js';

const API_KEY = 'service-job-key-0123456789abcdef';

/**
 * The whole service (HTTP + real BullMQ workers) against a sandbox answering `Prefer: return=minimal`
 * with an empty body, as Medplum does: every assessment job completes on its first attempt, `$assess`
 * answers 200 with the resources, a replay duplicates nothing, and a changed record supersedes.
 */
describe('service job path against a Medplum-like EHR (empty return=minimal replies)', () => {
  let redis: TestRedis;
  let sandbox: Sandbox;
  let service: RunningService;
  let events: QueueEvents;
  let patientId: string;
  let prefix: string;

  beforeAll(async () => {
    redis = await useTestRedis();
    sandbox = await startSandbox({ logger: false, quirks: { minimalReply: 'empty' } });
    await sandbox.loadFile('test/fixtures/goff-2013-white-male.bundle.json');
    patientId = [...sandbox.repo.resourcesOf('Patient')][0].id;
    prefix = `t-wb-job-${process.pid}-${Date.now()}`;
    const cfg = loadConfig({
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: redis.url,
      QUEUE_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: '0',
      AS_OF: '2021-04-01',
      COALESCE_WINDOW_MS: '0',
      LOG_LEVEL: 'silent',
      API_KEYS: API_KEY,
      ASSESS_SYNC_TIMEOUT_MS: '45000',
      EHR_RATE_LIMIT: '0',
    });
    service = await startService(cfg, { http: true, workers: true }, createLogger('silent'), [createEmbeddedModel()]);
    events = new QueueEvents(ASSESS_QUEUE, { connection: { url: redis.url }, prefix });
    await events.waitUntilReady();
  });

  afterAll(async () => {
    await events?.close();
    await service?.assessQueue.obliterate({ force: true }).catch(() => {});
    await service?.eventsQueue.obliterate({ force: true }).catch(() => {});
    await service?.close();
    await sandbox?.close();
    await redis?.stop();
  });

  const runJob = async (jobId: string) => {
    const job = await service.assessQueue.add(
      'assess',
      { source: 'ehr', patientId, trigger: 'backfill', priority: 'backfill', force: true },
      { jobId },
    );
    const result = (await job.waitUntilFinished(events, 60_000)) as AssessJobResult;
    const done = await service.assessQueue.getJob(jobId);
    return { result, attempts: done?.attemptsStarted ?? 0 };
  };
  const outputs = () => ['RiskAssessment', 'ClinicalImpression', 'Provenance'].map((t) => sandbox.repo.count(t));

  it('When a patient is assessed through $assess and then by a queued job, Then both complete first time, the job finds what $assess wrote, and nothing is duplicated', async () => {
    const r = await fetch(`${service.url}/fhir/Patient/${patientId}/$assess`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
    });
    expect(r.status).toBe(200);
    const bundle = (await r.json()) as Bundle;
    const ra = bundle.entry?.find((e) => e.resource?.resourceType === 'RiskAssessment')?.resource as RiskAssessment;
    expect(ra.prediction?.[0].probabilityDecimal).toBeCloseTo(0.0538, 4);
    expect(outputs()).toEqual([1, 1, 1]);

    const job = await runJob('replay-1');
    expect(job.attempts).toBe(1);
    expect(job.result.assessments[0]).toMatchObject({ created: 0 });
    expect(job.result.assessments[0].written).toContain(`RiskAssessment/${ra.id}`);
    const again = await runJob('replay-2');
    expect(again.attempts).toBe(1);
    expect(outputs()).toEqual([1, 1, 1]);
    expect(await service.assessQueue.getFailedCount()).toBe(0);
  });

  it('When the record changes and the job runs again, Then it completes with new resources and the older preliminary ones are withdrawn', async () => {
    const before = [...sandbox.repo.resourcesOf('RiskAssessment')] as RiskAssessment[];
    await sandbox.repo.createResource<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }], text: 'Total Cholesterol' },
      subject: { reference: `Patient/${patientId}` },
      effectiveDateTime: '2021-03-20T09:30:00+00:00',
      valueQuantity: { value: 260, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    });
    const job = await runJob('changed-1');
    expect(job.attempts).toBe(1);
    expect(job.result.assessments[0].created).toBe(3);
    const key = job.result.assessments[0].key ?? '';
    expect(storedFor(sandbox, 'RiskAssessment', key)).toHaveLength(1);
    expect(sandbox.repo.peek<RiskAssessment>('RiskAssessment', before[0].id ?? '')?.status).toBe('cancelled');
    const impressions = [...sandbox.repo.resourcesOf('ClinicalImpression')] as ClinicalImpression[];
    expect(impressions.map((c) => c.status).sort()).toEqual(['completed', 'in-progress']);
    // Replayed: nothing new, nothing more withdrawn (one supersede Provenance in all).
    await runJob('changed-2');
    expect(outputs()).toEqual([2, 2, 3]);
    expect(await service.assessQueue.getFailedCount()).toBe(0);
  });
});
