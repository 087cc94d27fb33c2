import type { Observation, RiskAssessment } from '@medplum/fhirtypes';
import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelsCommand } from '../../src/cli/models.js';
import { loadConfig } from '../../src/config/config.js';
import { queryAudit } from '../../src/governance/audit-query.js';
import type { AssessJobResult } from '../../src/jobs/assess-queue.js';
import { ASSESS_QUEUE } from '../../src/jobs/queue-names.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningService, startService } from '../../src/service.js';
import { createLogger } from '../../src/util/logger.js';
import { capture } from '../helpers/capture.js';
import { type TestDatabase, useTestDatabase } from '../helpers/postgres.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { storeValidationReport } from '../helpers/validation-report.js';

const MODEL = 'fhir-assess-risk-equations@0.1.0';

/**
 * A running worker (service with workers, started in shadow mode) and the `models promote` command
 * against the same PostgreSQL and Redis: each promotion changes what the next assessment writes,
 * without restarting anything.
 */
describe('model lifecycle: a promotion reaches a running worker', () => {
  let redis: TestRedis;
  let pg: TestDatabase;
  let sandbox: Sandbox;
  let service: RunningService;
  let events: QueueEvents;
  let patientId: string;
  let env: Record<string, string>;
  let n = 0;
  /** Stored validation reports the promotions cite as evidence. */
  let reports: [string, string];

  beforeAll(async () => {
    [redis, pg] = await Promise.all([useTestRedis(), useTestDatabase()]);
    sandbox = await startSandbox({ logger: false });
    await sandbox.loadFile('test/fixtures/goff-2013-white-male.bundle.json');
    patientId = [...sandbox.repo.resourcesOf('Patient')][0].id;
    env = {
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: redis.url,
      DATABASE_URL: pg.url,
      QUEUE_PREFIX: `t-promote-${process.pid}-${Date.now()}`,
      HOST: '127.0.0.1',
      PORT: '0',
      AS_OF: '2021-04-01',
      COALESCE_WINDOW_MS: '0',
      LOG_LEVEL: 'silent',
      MODEL_MODE: 'shadow',
      EHR_RATE_LIMIT: '0',
    };
    service = await startService(loadConfig(env), { http: false, workers: true }, createLogger('silent'), [
      createEmbeddedModel(),
    ]);
    const model = createEmbeddedModel();
    reports = [await storeValidationReport(service.db!, model), await storeValidationReport(service.db!, model)];
    events = new QueueEvents(ASSESS_QUEUE, { connection: { url: redis.url }, prefix: env.QUEUE_PREFIX });
    await events.waitUntilReady();
  });

  afterAll(async () => {
    await events?.close();
    await service?.assessQueue.obliterate({ force: true }).catch(() => {});
    await service?.close();
    await sandbox?.close();
    await pg?.drop();
    await redis?.stop();
  });

  const assess = async () => {
    const job = await service.assessQueue.add(
      'assess',
      { source: 'ehr', patientId, trigger: 'api', priority: 'api', force: true },
      { jobId: `promote-${++n}` },
    );
    return ((await job.waitUntilFinished(events, 60_000)) as AssessJobResult).assessments[0];
  };
  const models = async (...argv: string[]) => {
    const io = { out: capture(), err: capture() };
    const code = await modelsCommand(argv, env, io);
    return { code, out: io.out.text(), err: io.err.text() };
  };
  const risks = () => [...sandbox.repo.resourcesOf('RiskAssessment')] as RiskAssessment[];

  it('When the version runs in shadow, Then nothing reaches the EHR and `models list` shows it from configuration', async () => {
    expect(await assess()).toMatchObject({ mode: 'shadow', written: [] });
    expect(risks()).toHaveLength(0);
    const list = await models('list');
    expect(list.out).toMatch(new RegExp(`${MODEL}\\s+shadow \\(config\\)`));
  });

  it('When a promotion skips a step, lacks evidence or names a version that never ran, Then it is refused and nothing changes', async () => {
    const base = ['--by', 'Dr A. Governance', '--reason', 'validated locally'];
    const skip = await models('promote', MODEL, '--to', 'final', ...base, '--evidence', reports[0]);
    expect(skip).toMatchObject({
      code: 1,
      err: expect.stringMatching(/one step at a time: shadow → preliminary first/),
    });
    const noEvidence = await models('promote', MODEL, '--to', 'preliminary', ...base);
    expect(noEvidence.err).toMatch(/needs --evidence/);
    // Evidence must be a validation report stored here (fhir-assess validate / $validate-model).
    const unknown = await models('promote', MODEL, '--to', 'preliminary', ...base, '--evidence', 'vr-nowhere');
    expect(unknown).toMatchObject({ code: 1, err: expect.stringMatching(/no validation report 'vr-nowhere'/) });
    const typo = await models(
      'promote',
      'fhir-assess-risk-equations@0.1.1',
      '--to',
      'preliminary',
      ...base,
      '--evidence',
      reports[0],
    );
    expect(typo.err).toMatch(/no version fhir-assess-risk-equations@0\.1\.1 has run here; known: .*@0\.1\.0/);
    expect(await assess()).toMatchObject({ mode: 'shadow' });
  });

  it('When the version is promoted to preliminary, then final, Then the running worker writes preliminary, then final, results', async () => {
    const base = ['--by', 'Dr A. Governance', '--reason', 'validation report reviewed by the AI committee'];
    const p = await models('promote', MODEL, '--to', 'preliminary', ...base, '--evidence', reports[0]);
    expect(p).toMatchObject({ code: 0, out: expect.stringMatching(/shadow → preliminary by Dr A\. Governance/) });
    const live = await assess();
    expect(live).toMatchObject({ mode: 'preliminary', created: 3 });
    expect(risks().map((r) => r.status)).toEqual(['preliminary']);

    await models('promote', MODEL, '--to', 'final', ...base, '--evidence', reports[1]);
    // A new lab result: a new assessment (the same record would find its preliminary copies).
    await sandbox.repo.createResource<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2085-9' }], text: 'HDL' },
      subject: { reference: `Patient/${patientId}` },
      effectiveDateTime: '2021-03-25T09:30:00+00:00',
      valueQuantity: { value: 55, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    });
    expect(await assess()).toMatchObject({ mode: 'final', created: 3 });
    // The newer (final) result supersedes the preliminary one.
    expect(
      risks()
        .map((r) => r.status)
        .sort(),
    ).toEqual(['cancelled', 'final']);

    const show = await models('show', MODEL);
    expect(show.out).toMatch(/mode:\s+final\n\s+set by:\s+Dr A\. Governance/);
    expect(show.out).toMatch(new RegExp(`shadow → preliminary.*evidence ${reports[0]}`));
    expect(show.out).toMatch(new RegExp(`preliminary → final.*evidence ${reports[1]}`));
    const trail = await queryAudit(service.db!, { model: MODEL });
    expect(trail.map((r) => `${r.entry.action}:${r.entry.mode}`)).toEqual([
      'inference:shadow',
      'inference:shadow',
      'promotion:preliminary',
      'inference:preliminary',
      'promotion:final',
      'inference:final',
    ]);
    expect(trail[3].entry).toMatchObject({
      patient: `Patient/${patientId}`,
      predictions: [{ calculator: 'pce-2013', probability: expect.closeTo(0.0538, 4), risk: 'moderate' }],
      jobId: 'promote-3',
    });
    expect(trail[3].entry.written).toEqual(expect.arrayContaining([expect.stringMatching(/^RiskAssessment\//)]));
  });
});
