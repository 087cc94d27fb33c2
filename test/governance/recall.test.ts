import { type ChildProcess, spawn } from 'node:child_process';
import type { Bundle, ClinicalImpression, Patient, Provenance, Resource, RiskAssessment } from '@medplum/fhirtypes';
import { QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelsCommand } from '../../src/cli/models.js';
import { loadConfig } from '../../src/config/config.js';
import { FhirClient } from '../../src/fhir/fhir-client.js';
import { queryAudit } from '../../src/governance/audit-query.js';
import { verifyChain } from '../../src/governance/audit-verify.js';
import { RECALL_TAG_SYSTEM } from '../../src/governance/recall/recall-marks.js';
import type { AssessJobResult } from '../../src/jobs/assess-queue.js';
import { ASSESS_QUEUE } from '../../src/jobs/queue-names.js';
import { createEmbeddedModel } from '../../src/models/embedded-model.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningService, startService } from '../../src/service.js';
import { createLogger } from '../../src/util/logger.js';
import { assessmentKey } from '../../src/writeback/idempotency-key.js';
import { ShadowStore } from '../../src/writeback/shadow-store.js';
import { writeBack } from '../../src/writeback/write-back.js';
import { capture } from '../helpers/capture.js';
import { type TestDatabase, useTestDatabase } from '../helpers/postgres.js';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import { storeValidationReport } from '../helpers/validation-report.js';
import { goffLikeOutput, inputFor } from '../writeback/model-output.js';

const CLI = 'dist/cli.js';
const MODEL_ID = 'recall-test';
const VERSION = '0.1.0'; // the embedded PCE-only configuration's version
const MODEL = `${MODEL_ID}@${VERSION}`;
const PATIENTS = 24;

/**
 * A recall of a version with outputs for 24 patients (written by the real write-back, one of them
 * already superseded, one rejected by a clinician), run as the CLI in a child process and killed
 * with SIGKILL midway, then run again: every output ends entered-in-error exactly once, each
 * assessment has one recall Provenance, and the running service's worker writes nothing more.
 */
describe('models recall: resumable, idempotent, and final', () => {
  let redis: TestRedis;
  let pg: TestDatabase;
  let sandbox: Sandbox;
  let service: RunningService;
  let events: QueueEvents;
  let client: FhirClient;
  let env: Record<string, string>;
  let goffId: string;

  beforeAll(async () => {
    [redis, pg] = await Promise.all([useTestRedis(), useTestDatabase()]);
    sandbox = await startSandbox({ logger: false });
    await sandbox.loadFile('test/fixtures/goff-2013-white-male.bundle.json');
    goffId = [...sandbox.repo.resourcesOf('Patient')][0].id;
    client = new FhirClient({ baseUrl: sandbox.baseUrl });
    env = {
      FHIR_BASE_URL: sandbox.baseUrl,
      REDIS_URL: redis.url,
      DATABASE_URL: pg.url,
      QUEUE_PREFIX: `t-recall-${process.pid}-${Date.now()}`,
      HOST: '127.0.0.1',
      PORT: '0',
      AS_OF: '2021-04-01',
      COALESCE_WINDOW_MS: '0',
      LOG_LEVEL: 'silent',
      EHR_RATE_LIMIT: '0',
    };
    service = await startService(loadConfig(env), { http: false, workers: true }, createLogger('silent'), [
      createEmbeddedModel({ id: MODEL_ID }),
    ]);
    events = new QueueEvents(ASSESS_QUEUE, { connection: { url: redis.url }, prefix: env.QUEUE_PREFIX });
    await events.waitUntilReady();
    await seedOutputs();
  });

  afterAll(async () => {
    await events?.close();
    await service?.assessQueue.obliterate({ force: true }).catch(() => {});
    await service?.close();
    await sandbox?.close();
    await pg?.drop();
    await redis?.stop();
  });

  const assessGoff = async (jobId: string) => {
    const job = await service.assessQueue.add(
      'assess',
      { source: 'ehr', patientId: goffId, trigger: 'api', priority: 'api', force: true },
      { jobId },
    );
    return ((await job.waitUntilFinished(events, 60_000)) as AssessJobResult).assessments[0];
  };

  /** 24 patients with this version's outputs (the real write-back), one superseded, one clinician-rejected; plus Goff via the worker. */
  async function seedOutputs() {
    const deps = { redis: service.redis, keyPrefix: env.QUEUE_PREFIX, source: 'ehr' };
    for (let i = 0; i < PATIENTS; i++) {
      const p = await client.create<Patient>({ resourceType: 'Patient', gender: 'male', birthDate: '1966-01-01' });
      const refs = {
        tc: `Observation/tc-${i}`,
        hdl: `Observation/hdl-${i}`,
        sbp: `Observation/sbp-${i}`,
        patient: `Patient/${p.id}`,
      };
      const output = { ...goffLikeOutput(refs), modelId: MODEL_ID, modelVersion: VERSION };
      const key = assessmentKey(p.id ?? '', MODEL_ID, VERSION, `record-${i}`);
      await writeBack(client, inputFor(p.id ?? '', key, output), deps);
      if (i === 0) {
        // A newer assessment of the same patient supersedes the first (cancelled / completed): both are recalled.
        const newer = assessmentKey(p.id ?? '', MODEL_ID, VERSION, 'record-0b');
        await writeBack(client, inputFor(p.id ?? '', newer, output, { now: new Date('2030-01-01T00:00:00Z') }), deps);
      }
    }
    // A clinician already rejected one result: the recall leaves it as it is.
    const rejected = [...sandbox.repo.resourcesOf('RiskAssessment')][5] as RiskAssessment & { id: string };
    await client.update<RiskAssessment>({ ...rejected, status: 'entered-in-error' });
    expect(await assessGoff('seed-goff')).toMatchObject({ mode: 'preliminary', created: 3 });
    // What a shadow run of the version left behind is dropped by the recall.
    await new ShadowStore(service.redis, env.QUEUE_PREFIX, 90).save({
      key: 'shadow-key-1',
      source: 'ehr',
      patientId: goffId,
      modelId: MODEL_ID,
      modelVersion: VERSION,
      createdAt: new Date().toISOString(),
      bundle: { resourceType: 'Bundle', type: 'transaction', entry: [] },
    });
  }

  const outputs = () =>
    [...sandbox.repo.resourcesOf('RiskAssessment'), ...sandbox.repo.resourcesOf('ClinicalImpression')] as (
      | RiskAssessment
      | ClinicalImpression
    )[];
  const inError = () => outputs().filter((r) => r.status === 'entered-in-error').length;
  const recallProvenances = () =>
    ([...sandbox.repo.resourcesOf('Provenance')] as Provenance[]).filter(
      (p) => p.meta?.tag?.[0]?.system === RECALL_TAG_SYSTEM,
    );
  const recallArgs = ['models', 'recall', MODEL, '--by', 'Dr B. Safety', '--reason', 'miscalibrated in the over-75s'];

  it('When the recall is SIGKILLed midway and run again, Then every output is entered-in-error once, with one recall Provenance per assessment', async () => {
    const total = outputs().length;
    expect(total).toBe((PATIENTS + 2) * 2); // 24 + the superseded one + Goff: a RiskAssessment and an impression each
    const before = inError();
    expect(before).toBe(1);

    const child = spawn(process.execPath, [CLI, ...recallArgs, '--rate', '20/s'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // Kill it once a few assessments are withdrawn (paced at 20/s, it is then far from done).
    await until(() => inError() >= before + 6, child);
    child.kill('SIGKILL');
    expect(await exited).toBeNull();
    const midway = inError();
    expect(midway).toBeLessThan(total);
    expect(service.db).toBeDefined();
    const progress = await service.db!.query('SELECT assessments, done FROM recall_progress');
    expect(progress.rows[0]).toMatchObject({ done: false });

    const io = { out: capture(), err: capture() };
    expect(await modelsCommand(recallArgs.slice(1), env, io)).toBe(0);
    // 51 = the 52 outputs less the one a clinician rejected, counted across both runs.
    expect(io.out.text()).toMatch(
      /was already recalled; continued\nrecall complete: 26 assessment\(s\) on ehr; 51 resource\(s\) marked entered-in-error by this recall/,
    );
    expect(inError()).toBe(total);

    // Nothing twice: one recall Provenance per model Provenance, each output withdrawn in exactly one version.
    const recalls = recallProvenances();
    expect(recalls).toHaveLength(PATIENTS + 2);
    const targeted = recalls.flatMap((p) => (p.target ?? []).map((t) => t.reference));
    expect(new Set(targeted).size).toBe(targeted.length);
    expect(targeted).toHaveLength(total - 1); // all but the clinician-rejected one
    for (const r of outputs()) {
      const history = await client.get<Bundle<Resource>>(`${r.resourceType}/${r.id}/_history`);
      const errors = (history.entry ?? []).filter(
        (e) => (e.resource as RiskAssessment | undefined)?.status === 'entered-in-error',
      );
      expect(errors).toHaveLength(1);
    }
    const trail = await queryAudit(service.db!, { model: MODEL, action: ['recall', 'recall-completed'] }, 1000);
    expect(trail.filter((r) => r.entry.action === 'recall' && r.entry.written?.length)).toHaveLength(PATIENTS + 2);
    expect(trail.at(-1)?.entry).toMatchObject({ action: 'recall-completed', actor: 'Dr B. Safety' });
    expect((await verifyChain(service.db!)).ok).toBe(true);
  });

  it('When the recall is run again, Then it changes nothing; and the running worker writes nothing for the version', async () => {
    const versions = outputs().map((r) => r.meta?.versionId);
    const io = { out: capture(), err: capture() };
    expect(await modelsCommand(recallArgs.slice(1), env, io)).toBe(0);
    expect(io.out.text()).toMatch(/already recalled; continued\nrecall complete: 26 assessment\(s\)/);
    expect(outputs().map((r) => r.meta?.versionId)).toEqual(versions);
    expect(recallProvenances()).toHaveLength(PATIENTS + 2);

    const count = sandbox.repo.count('RiskAssessment');
    expect(await assessGoff('after-recall')).toMatchObject({ skipped: 'recalled', written: [] });
    expect(sandbox.repo.count('RiskAssessment')).toBe(count);
    const shadow = await new ShadowStore(service.redis, env.QUEUE_PREFIX, 90).list({ source: 'ehr', model: MODEL });
    expect(shadow).toEqual([]);
    const evidence = await storeValidationReport(service.db!, createEmbeddedModel({ id: MODEL_ID }));
    const promote = await modelsCommand(
      ['promote', MODEL, '--to', 'preliminary', '--by', 'x', '--reason', 'y', '--evidence', evidence],
      env,
      { out: capture(), err: io.err },
    );
    expect(promote).toBe(1);
    expect(io.err.text()).toMatch(/was recalled; a recalled version never runs again/);
  });
});

/** Polls (no fixed sleeps) until the condition holds; fails if the child exits first. */
async function until(cond: () => boolean, child: ChildProcess): Promise<void> {
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  for (let i = 0; i < 6000; i++) {
    if (cond()) return;
    if (child.exitCode !== null) throw new Error(`recall exited (${child.exitCode}) before it was killed: ${stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`condition not reached: ${stderr}`);
}
