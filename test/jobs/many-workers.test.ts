import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestRedis, useTestRedis } from '../helpers/redis.js';
import {
  createGoffPatient,
  type Harness,
  outputsFor,
  SECRET,
  settle,
  startHarness,
  waitFor,
} from '../intake/helpers/harness.js';
import {
  type CompiledCli,
  compileCli,
  startWorkerProcess,
  type WorkerProcess,
} from '../intake/helpers/worker-process.js';

/*
 * Scale-out (issue 14): three `fhir-assess worker` processes share one Redis and one EHR. One of them
 * is SIGKILLed while it holds an assessment; the others take its job over once its lock expires.
 * Nothing acknowledged is lost and nothing is written twice: one RiskAssessment and one
 * ClinicalImpression per patient, every job completed once, the work spread over the processes.
 */
const PATIENTS = 12;
const WORKERS = 3;
/** A killed worker's jobs are taken over after about this long (JOB_LOCK_MS), instead of 30 s. */
const LOCK_MS = 1500;

describe('many worker processes, one killed mid-run', () => {
  let redis: TestRedis;
  let cli: CompiledCli;
  let h: Harness;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    [redis, cli] = await Promise.all([useTestRedis(), compileCli()]);
    h = await startHarness({
      redisUrl: redis.url,
      name: 'many-workers',
      roles: { http: true, workers: false }, // intake only: assessing is the worker processes' job
      env: { COALESCE_WINDOW_MS: '100' },
    });
  }, 120_000);

  afterAll(async () => {
    for (const w of workers) await w.kill();
    await h?.close();
    await redis?.stop();
    cli?.remove();
  });

  it('When one of three workers is SIGKILLed holding a job, Then the others finish every acknowledged assessment exactly once', async () => {
    const patients: string[] = [];
    for (let i = 0; i < PATIENTS; i++) patients.push(await createGoffPatient(h.ehr));
    for (let i = 0; i < WORKERS; i++) {
      workers.push(
        startWorkerProcess(cli.cliPath, {
          FHIR_BASE_URL: h.sandbox.baseUrl,
          REDIS_URL: redis.url,
          QUEUE_PREFIX: h.prefix,
          AS_OF: '2021-04-01',
          COALESCE_WINDOW_MS: '100',
          POLL_OVERLAP_MS: '0',
          JOB_LOCK_MS: String(LOCK_MS),
          ASSESS_CONCURRENCY: '2',
          LOG_LEVEL: 'warn',
        }),
      );
    }
    for (const patient of patients) {
      const [obs] = await h.ehr.searchAll<Resource>('Observation', { subject: `Patient/${patient}`, _count: '1' });
      const res = await fetch(`${h.notifyUrl}/Observation/${obs.id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(obs),
      });
      expect(res.status).toBe(200); // acknowledged: from here on it must not be lost
    }

    // Kill the worker process that holds an assessment right now, while others are still to come.
    const pidOf = (processedBy?: string) => Number(processedBy?.split(':').pop());
    const victim = await waitFor(
      async () => {
        const { completed } = await h.service.assessQueue.getJobCounts('completed');
        if (completed >= PATIENTS - 2) return undefined;
        const active = await h.service.assessQueue.getJobs(['active'], 0, 50);
        const held = active.find((j) => workers.some((w) => w.child.pid === pidOf(j.processedBy)));
        return held && { jobId: held.id!, worker: workers.find((w) => w.child.pid === pidOf(held.processedBy))! };
      },
      60_000,
      'an assessment held by a worker process',
    );
    await victim.worker.kill();

    await waitFor(
      async () => (await h.service.assessQueue.getJobCounts('completed')).completed >= PATIENTS,
      60_000,
      `all ${PATIENTS} assessments`,
    );
    await settle(h);
    for (const patient of patients) expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 1, impressions: 1 });
    const jobs = await h.service.assessQueue.getJobs(['completed', 'failed'], 0, 1000);
    expect(jobs.filter((j) => j.failedReason)).toEqual([]);
    expect(jobs).toHaveLength(PATIENTS); // one assessment per patient, none run twice to completion
    expect(new Set(jobs.map((j) => j.data.patientId))).toEqual(new Set(patients));
    const taken = jobs.find((j) => j.id === victim.jobId)!;
    expect(taken.stalledCounter).toBe(1); // the killed worker's job was taken over, not lost
    expect(pidOf(taken.processedBy)).not.toBe(victim.worker.child.pid);
    const ranOn = new Set(jobs.map((j) => pidOf(j.processedBy)));
    expect(ranOn.size).toBeGreaterThanOrEqual(2); // the surviving processes shared the work
  }, 180_000);
});
