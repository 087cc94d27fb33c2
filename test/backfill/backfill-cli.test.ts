import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillRunId, runBackfill } from '../../src/backfill/run-backfill.js';
import { UsageError } from '../../src/cli/args.js';
import { backfillCommand, EXIT_ASSESSMENTS_FAILED } from '../../src/cli/backfill.js';
import { jobsCommand } from '../../src/cli/jobs.js';
import { enqueueAssessment } from '../../src/jobs/assess-queue.js';
import { poll } from '../api/api-fixture.js';
import { type FaultProxy, startFaultProxy } from '../fhir/fault-proxy.js';
import { capture } from '../helpers/capture.js';
import { type BackfillFixture, startBackfillFixture } from './backfill-fixture.js';

describe('fhir-assess backfill (CLI), rate and priority', () => {
  let f: BackfillFixture;
  let dir: string;

  beforeAll(async () => {
    f = await startBackfillFixture('backfill-cli');
    dir = mkdtempSync(join(tmpdir(), 'backfill-cli-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f?.close();
  });

  it('When run with --patients FILE --rate 20/s, Then it assesses those patients, enqueued no faster than 20 per second', async () => {
    const ids = f.patientIds.slice(0, 8);
    const file = join(dir, 'patients.txt');
    writeFileSync(file, `# cohort\n${ids.map((id, i) => (i % 2 ? `Patient/${id}` : id)).join('\n')}\n\n`);
    const out = capture();
    const err = capture();
    const code = await backfillCommand(['--patients', file, '--rate', '20/s'], f.env, { out, err });
    expect(code).toBe(0);
    expect(out.text()).toMatch(/done: enqueued 8\/8, done 8, failed 0, skipped 0/);
    // The operator is told what caps the pace (issue 17): here --rate, below the fixture's EHR_RATE_LIMIT.
    expect(err.text()).toMatch(/pace: at most 20 patients\/s, capped by --rate 20/);
    const jobs = (await f.service.assessQueue.getJobs(['completed'])).filter((j) => j.data.trigger === 'backfill');
    expect(jobs.map((j) => j.data.patientId).sort()).toEqual([...ids].sort());
    const added = jobs.map((j) => j.timestamp).sort((a, b) => a - b);
    // 8 jobs paced 50 ms apart span at least 7 intervals (a correctness bound of the pacer, not a speed test).
    expect(added[added.length - 1] - added[0]).toBeGreaterThanOrEqual(7 * 50 - 5);
  });

  it('When the command line is wrong, Then it is a usage error naming the problem', async () => {
    const io = { out: capture(), err: capture() };
    // Ids that would change the path of an EHR request (issue 16): refused before anything is queued.
    const badIds = join(dir, 'bad-ids.txt');
    writeFileSync(badIds, `Patient/ok-1\nPatient/..\n.\n${'x'.repeat(65)}\na/b\n`);
    const cases: [string[], RegExp][] = [
      [[], /exactly one of --all, --group ID, --patients FILE/],
      [['--all', '--group', 'g1'], /exactly one of/],
      [['--all', '--rate', 'fast'], /--rate must be patients per second/],
      [['--all', '--since', 'yesterday'], /--since must be a date/],
      [['--all', '--models', 'nope'], /unknown model\(s\) nope/],
      [['--all', '--strategy', 'magic'], /--strategy must be auto, bulk or search/],
      [['--patients', join(dir, 'missing.txt')], /cannot read/],
      [['--all', '--source', 'other'], /unknown source 'other'/],
      [['--group', '..'], /--group must be a FHIR id/],
      [['--patients', badIds], /line\(s\) 2, 3, 4, 5 of .* are not patient ids/],
    ];
    for (const [argv, message] of cases) {
      await expect(backfillCommand(argv, f.env, io)).rejects.toThrow(UsageError);
      await expect(backfillCommand(argv, f.env, io)).rejects.toThrow(message);
    }
  });

  it('When a backfill is queued and a live event arrives, Then the live assessment runs before the remaining backfill jobs', async () => {
    const worker = f.service.workers!.assess;
    await worker.pause();
    try {
      const queued = await runBackfill(f.deps, {
        source: 'ehr',
        selection: { kind: 'all' },
        ratePerSecond: 0,
        wait: false,
        restart: true,
      });
      expect(queued.enqueued).toBe(16);
      const live = await enqueueAssessment(
        f.service.assessQueue,
        { source: 'ehr', patientId: f.patientIds[15], trigger: 'Observation/x', priority: 'live' },
        0,
      );
      worker.resume();
      const done = await poll(
        async () => {
          const jobs = (await f.service.assessQueue.getJobs(['completed'])).filter(
            (j) => j.data.requestId === queued.runId,
          );
          return jobs.length === 16 ? jobs : undefined;
        },
        60_000,
        'the backfill jobs',
      );
      const liveJob = await f.service.assessQueue.getJob(String(live.id));
      expect(liveJob?.finishedOn).toBeDefined();
      const firstBackfill = Math.min(...done.map((j) => j.processedOn ?? Number.POSITIVE_INFINITY));
      expect(liveJob!.processedOn!).toBeLessThanOrEqual(firstBackfill);
    } finally {
      worker.resume();
    }
  });
});

const CLI = 'dist/cli.js';

/** `node dist/cli.js ...` as an operator runs it: its exit code, stdout and stderr. */
function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    execFile(process.execPath, [CLI, ...args], { env: { ...base, ...env } }, (err, stdout, stderr) => {
      const code = err ? Number((err as { code?: number }).code ?? 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Backfill when every write-back fails for good: the EHR (the sandbox behind the fault proxy) answers
 * each write with 403, as it would for a client without write scopes. The workers run in this process;
 * the backfill is the built CLI in a child process, so the exit code is the real one.
 */
describe.skipIf(!existsSync(CLI))('fhir-assess backfill (built CLI) when assessments fail', () => {
  let f: BackfillFixture;
  let proxy: FaultProxy;
  let dir: string;
  const DENIED = 'Write access denied: the client lacks system/*.write';
  const refuseWrites = () => {
    proxy.rule = (req) =>
      req.method !== 'GET' && !req.body.includes('"batch"')
        ? {
            kind: 'status',
            status: 403,
            body: {
              resourceType: 'OperationOutcome',
              issue: [{ severity: 'error', code: 'forbidden', diagnostics: DENIED }],
            },
          }
        : undefined;
  };
  const cohort = (name: string, ids: string[]) => {
    const file = join(dir, name);
    writeFileSync(file, `${ids.join('\n')}\n`);
    return file;
  };

  beforeAll(async () => {
    f = await startBackfillFixture('backfill-fail', async (sandboxBaseUrl) => {
      proxy = await startFaultProxy(sandboxBaseUrl);
      return { FHIR_BASE_URL: proxy.baseUrl };
    });
    dir = mkdtempSync(join(tmpdir(), 'backfill-fail-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await f?.close();
    await proxy?.close();
  });

  it('When every write-back is refused, Then backfill exits 3 saying how many failed, why, and how to retry; the same command after the fix retries them and exits 0', async () => {
    refuseWrites();
    const ids = f.patientIds.slice(0, 4);
    const file = cohort('cohort.txt', ids);
    const failed = await runCli(['backfill', '--patients', file, '--rate', '0'], f.env);
    expect(failed.code).toBe(EXIT_ASSESSMENTS_FAILED);
    expect(EXIT_ASSESSMENTS_FAILED).toBe(3);
    expect(failed.stdout).toMatch(/ done: enqueued 4\/4, done 0, failed 4, skipped 0/);
    expect(failed.stdout).toContain('4 of 4 assessment(s) failed:\n');
    // One line per distinct reason, with its count and an example job.
    const example = new RegExp(
      `^  4 × source 'ehr' refused fhir-assess's request to /fhir/R4/\\w+ with HTTP 403 \\(EHR answer: HTTP 403: ${DENIED.replace(/[*/]/g, '\\$&')}\\); check the credentials and scopes .*\\(e\\.g\\. Patient/(${ids.join('|')}), job \\d+\\)$`,
      'm',
    );
    expect(failed.stdout).toMatch(example);
    expect(failed.stdout).toContain('every failed job with its reason: fhir-assess jobs failed --queue assess');
    expect(failed.stdout).toContain('run this same command again (it retries the failed assessments of this run)');
    // Progress (stderr, not a terminal): says what the enumerator does, and shows the failures as they come.
    expect(failed.stderr).toContain(`enumerating from patients file ${file}`);
    expect(failed.stderr).not.toContain('exporting');
    expect(failed.stderr).toMatch(/failed [1-4],/);
    expect(await f.service.assessQueue.getFailedCount()).toBe(4);

    // Fixed on the EHR side; the same command again retries exactly those four.
    proxy.rule = () => undefined;
    const retried = await runCli(['backfill', '--patients', file, '--rate', '0'], f.env);
    expect(retried.stderr).toContain('retrying [retrying 4 failed assessment(s) of this run]');
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(/ done \(resumed\): enqueued 4\/4, done 4, failed 0, skipped 0/);
    expect(await f.service.assessQueue.getFailedCount()).toBe(0);
    for (const id of ids)
      expect(await f.ehr.searchAll('RiskAssessment', { subject: `Patient/${id}` })).not.toHaveLength(0);
    // And once more: nothing left to do.
    const again = await runCli(['backfill', '--patients', file, '--rate', '0'], f.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already complete');
  });

  it('When the failed jobs were retried with `jobs retry --all` instead, Then the same command finds them completed and exits 0', async () => {
    refuseWrites();
    const ids = f.patientIds.slice(4, 7);
    const file = cohort('cohort-2.txt', ids);
    const io = () => ({ out: capture(), err: capture() });
    expect(await backfillCommand(['--patients', file, '--rate', '0', '--quiet'], f.env, io())).toBe(3);
    proxy.rule = () => undefined;
    const out = capture();
    expect(await jobsCommand(['retry', '--all', '--queue', 'assess'], f.env, { out, err: capture() })).toBe(0);
    expect(out.text()).toBe('assess: 3 retried\n');
    const runId = backfillRunId({ source: 'ehr', selection: { kind: 'patients', file, ids } });
    const completed = async () =>
      (await f.service.assessQueue.getJobs(['completed'])).filter((j) => j.data.requestId === runId).length;
    await poll(async () => ((await completed()) === 3 ? true : undefined), 60_000, 'the retried jobs');
    const rerun = io();
    expect(await backfillCommand(['--patients', file, '--rate', '0', '--quiet'], f.env, rerun)).toBe(0);
    expect(rerun.out.text()).toMatch(/ done \(resumed\): enqueued 3\/3, done 3, failed 0/);
  });
});
