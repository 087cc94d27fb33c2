import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { enqueueAssessment } from '../../src/jobs/assess-queue.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import type { Model } from '../../src/models/model.js';
import { type RunningService, startService } from '../../src/service.js';
import { createLogger } from '../../src/util/logger.js';
import { countOutputs, type Harness, seedGoffPatient, startHarness } from './harness.js';

/** A model with the classic unit bug: it reports percentages (5.38) where FHIR wants 0–1 here. */
function percentBugModel(): Model {
  const inner = createEmbeddedModel();
  return {
    ...inner,
    id: 'percent-bug-model',
    version: '1.0.0',
    title: 'A model that reports percentages',
    async assess(record, ctx) {
      const out = await inner.assess(record, ctx);
      return {
        ...out,
        modelId: 'percent-bug-model',
        modelVersion: '1.0.0',
        predictions: out.predictions.map((p) => ({ ...p, probability: (p.probability ?? 0) * 100 })),
      };
    },
  };
}

/**
 * A write-back that does not validate fails its job permanently through the real service and
 * workers: one attempt (not the queue's 6), the failure names the profile rule, and the EHR is untouched.
 */
describe('validation failure through the assess worker', () => {
  let h: Harness;
  let service: RunningService;
  let events: QueueEvents;
  let patientId: string;

  beforeAll(async () => {
    h = await startHarness('invalid');
    patientId = await seedGoffPatient(h.sandbox);
    const cfg = loadConfig({
      FHIR_BASE_URL: h.sandbox.baseUrl,
      REDIS_URL: h.redis.url,
      QUEUE_PREFIX: h.prefix,
      AS_OF: '2021-04-01',
      COALESCE_WINDOW_MS: '0',
      LOG_LEVEL: 'silent',
    });
    service = await startService(cfg, { http: false, workers: true }, createLogger('silent'), [percentBugModel()]);
    events = new QueueEvents(service.assessQueue.name, { connection: { url: h.redis.url }, prefix: h.prefix });
    await events.waitUntilReady();
  });

  afterAll(async () => {
    await events?.close();
    await service?.assessQueue.obliterate({ force: true }).catch(() => {});
    await service?.eventsQueue.obliterate({ force: true }).catch(() => {});
    await service?.close();
    await h?.close();
  });

  it('When a model output breaks the RiskAssessment profile, Then the job fails once, unretried, with the OperationOutcome, and nothing is written', async () => {
    const before = countOutputs(h.sandbox);
    const job = await enqueueAssessment(
      service.assessQueue,
      { source: 'ehr', patientId, trigger: 'api', priority: 'api' },
      0,
    );
    await expect(job.waitUntilFinished(events, 30_000)).rejects.toThrow(/write-back validation|fa-ra-5/);
    const failed = await service.assessQueue.getJob(job.id!);
    expect(await failed?.getState()).toBe('failed');
    expect(failed?.attemptsMade).toBe(1); // UnrecoverableError: the queue's 6 attempts are not used
    expect(failed?.failedReason).toMatch(/RiskAssessment.*fa-ra-5.*0-1 scale/);
    expect(failed?.failedReason).not.toMatch(/Goff|Smith|name/i); // ids and rule names only, no PHI
    expect(countOutputs(h.sandbox)).toEqual(before);
    expect(before).toEqual({ RiskAssessment: 0, ClinicalImpression: 0, Provenance: 0, Device: 0 });
  });
});
