import type { Patient } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobsCommand } from '../../src/cli/jobs.js';
import { enqueueAssessment } from '../../src/jobs/assess-queue.js';
import { poll } from '../api/api-fixture.js';
import { type BackfillFixture, startBackfillFixture } from '../backfill/backfill-fixture.js';
import { capture } from '../helpers/capture.js';

/** Failed jobs are kept, listed (`jobs failed`) and retried (`jobs retry ID|--all`), with real Redis and workers. */
describe('fhir-assess jobs failed / retry', () => {
  let f: BackfillFixture;

  beforeAll(async () => {
    f = await startBackfillFixture('failed-jobs');
  });
  afterAll(async () => {
    await f?.close();
  });

  const failedJob = async (patientId: string) => {
    const job = await enqueueAssessment(
      f.service.assessQueue,
      { source: 'ehr', patientId, trigger: 'api', priority: 'api' },
      0,
    );
    await poll(async () => ((await job.getState()) === 'failed' ? true : undefined), 30_000, `job ${job.id} to fail`);
    return String(job.id);
  };

  it('When an assessment fails permanently (patient unknown to the EHR), Then it is kept after one attempt, listed without PHI, and retried by id once the cause is fixed', async () => {
    const id = await failedJob('later-created');
    const out = capture();
    expect(await jobsCommand(['failed'], f.env, { out, err: capture() })).toBe(0);
    const lines = out.text().split('\n');
    expect(lines[0]).toMatch(/^id\s+queue\s+patient ref\s+reason\s+attempts\s+failed at$/);
    const row = lines.find((l) => l.startsWith(`${id} `))!;
    expect(row).toMatch(
      new RegExp(
        `^${id}\\s+assess\\s+Patient/later-created\\s+EHR refused \\(HTTP 404\\).*\\s1\\s+\\d{4}-\\d\\d-\\d\\dT`,
      ),
    );

    // The cause is fixed (the patient now exists); retry by id.
    await f.ehr.update<Patient>({
      resourceType: 'Patient',
      id: 'later-created',
      gender: 'female',
      birthDate: '1960-01-01',
    });
    const retried = capture();
    expect(await jobsCommand(['retry', id], f.env, { out: retried, err: capture() })).toBe(0);
    expect(retried.text()).toBe(`retried assess/${id}\n`);
    const job = await f.service.assessQueue.getJob(id);
    await poll(async () => ((await job!.getState()) === 'completed' ? true : undefined), 30_000, 'the retried job');
  });

  it('When retrying --all, Then every failed job goes back to waiting; an unknown id is reported', async () => {
    const a = await failedJob('missing-a');
    const b = await failedJob('missing-b');
    const firstFailure = new Map<string, number>();
    for (const id of [a, b]) firstFailure.set(id, (await f.service.assessQueue.getJob(id))!.finishedOn!);
    const out = capture();
    expect(await jobsCommand(['retry', '--all', '--queue', 'assess'], f.env, { out, err: capture() })).toBe(0);
    expect(out.text()).toBe('assess: 2 retried\n');
    // They fail again (the patients still do not exist): proof that both ran again.
    for (const id of [a, b]) {
      await poll(
        async () => {
          const job = await f.service.assessQueue.getJob(id);
          const again = (await job?.getState()) === 'failed' && (job?.finishedOn ?? 0) > firstFailure.get(id)!;
          return again ? true : undefined;
        },
        30_000,
        `job ${id} to fail again`,
      );
    }
    const err = capture();
    expect(await jobsCommand(['retry', '999999'], f.env, { out: capture(), err })).toBe(1);
    expect(err.text()).toBe('not a failed job: 999999\n');
    await expect(jobsCommand(['retry'], f.env, { out: capture(), err })).rejects.toThrow(/needs job ids/);
    await expect(jobsCommand(['failed', '--queue', 'nope'], f.env, { out: capture(), err })).rejects.toThrow(
      /--queue must be one of events, assess, intake, validate/,
    );
  });
});
