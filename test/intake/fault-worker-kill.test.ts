import { rmSync } from 'node:fs';
import type { Resource } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OwnedRedis, startRedisServer } from '../../src/util/local-redis.js';
import {
  createGoffPatient,
  type Harness,
  outputsFor,
  SECRET,
  settle,
  startHarness,
  waitFor,
} from './helpers/harness.js';
import { type CompiledCli, compileCli, startWorkerProcess, type WorkerProcess } from './helpers/worker-process.js';

/*
 * Invariant 1 under a crash: the worker process is SIGKILLed while it is assessing. Every
 * notification acknowledged (2xx) before the crash is still processed, exactly once, by the next
 * worker process: one RiskAssessment per patient in the EHR, none missing, none doubled.
 * A test-owned redis-server with AOF; the worker is the real CLI (`node dist/cli.js worker`).
 */
const PATIENTS = 8;
/** A crashed worker's jobs are taken over after about this long (JOB_LOCK_MS), instead of 30 s. */
const LOCK_MS = 1500;

let redis: OwnedRedis;
let cli: CompiledCli;
let h: Harness;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  [redis, cli] = await Promise.all([startRedisServer({ appendOnly: true }), compileCli()]);
  // The service here only takes notifications (HTTP role); assessing is the child processes' job.
  h = await startHarness({
    redisUrl: redis.url,
    name: 'kill',
    roles: { http: true, workers: false },
    env: { COALESCE_WINDOW_MS: '100' },
  });
}, 120_000);

afterAll(async () => {
  for (const w of workers) await w.kill();
  await h?.close();
  await redis?.stop();
  cli?.remove();
});

function worker(): WorkerProcess {
  const w = startWorkerProcess(cli.cliPath, {
    FHIR_BASE_URL: h.sandbox.baseUrl,
    REDIS_URL: redis.url,
    QUEUE_PREFIX: h.prefix,
    AS_OF: '2021-04-01',
    COALESCE_WINDOW_MS: '100',
    POLL_OVERLAP_MS: '0',
    JOB_LOCK_MS: String(LOCK_MS),
    ASSESS_CONCURRENCY: '2',
    LOG_LEVEL: 'warn',
  });
  workers.push(w);
  return w;
}

describe('worker process killed mid-flight', () => {
  it('When the worker is SIGKILLed while assessing, Then a new worker processes every acknowledged event exactly once', async () => {
    const patients: string[] = [];
    for (let i = 0; i < PATIENTS; i++) patients.push(await createGoffPatient(h.ehr)); // no Subscription: silent
    // The EHR notifies one observation per patient (full-resource PUT); each 200 is an acknowledgement.
    for (const patient of patients) {
      const [obs] = await h.ehr.searchAll<Resource>('Observation', { subject: `Patient/${patient}`, _count: '1' });
      const res = await fetch(`${h.notifyUrl}/Observation/${obs.id}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(obs),
      });
      expect(res.status).toBe(200);
    }

    const first = worker();
    // Kill it while assessments are running and not all are done: mid-flight, by construction.
    const activeAtKill = await waitFor(
      async () => {
        const { active } = await h.service.assessQueue.getJobCounts('active');
        const { completed } = await h.service.assessQueue.getJobCounts('completed');
        return active > 0 && completed < PATIENTS ? active : undefined;
      },
      30_000,
      'an assessment in flight',
    );
    await first.kill();
    expect(activeAtKill).toBeGreaterThan(0);
    const doneBeforeRestart = (await h.service.assessQueue.getJobCounts('completed')).completed;
    expect(doneBeforeRestart).toBeLessThan(PATIENTS);

    const second = worker();
    await waitFor(
      async () => (await h.service.assessQueue.getJobCounts('completed')).completed >= PATIENTS,
      40_000,
      `all ${PATIENTS} assessments`,
    );
    await settle(h);
    expect((await h.service.assessQueue.getJobCounts('completed')).completed).toBe(PATIENTS); // one run each
    for (const patient of patients) expect(await outputsFor(h.ehr, patient)).toEqual({ risks: 1, impressions: 1 });
    const jobs = await h.service.assessQueue.getJobs(['completed', 'failed'], 0, 1000);
    expect(jobs.filter((j) => j.finishedOn && j.failedReason)).toEqual([]);
    expect(new Set(jobs.map((j) => j.data.patientId))).toEqual(new Set(patients));
    // The killed worker's in-flight job was taken over, not lost.
    expect(jobs.some((j) => (j.stalledCounter ?? 0) > 0)).toBe(true);
    await second.stop();
  });
});

// If a failing run skips its clean-up, still stop the test-owned Redis and remove its AOF directory.
process.once('exit', () => {
  redis?.process.kill('SIGKILL');
  if (redis) rmSync(redis.dir, { recursive: true, force: true });
});
