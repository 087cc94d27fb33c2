import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackfill } from '../../src/backfill/run-backfill.js';
import { UsageError } from '../../src/cli/args.js';
import { backfillCommand } from '../../src/cli/backfill.js';
import { enqueueAssessment } from '../../src/jobs/assess-queue.js';
import { poll } from '../api/api-fixture.js';
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
    const jobs = (await f.service.assessQueue.getJobs(['completed'])).filter((j) => j.data.trigger === 'backfill');
    expect(jobs.map((j) => j.data.patientId).sort()).toEqual([...ids].sort());
    const added = jobs.map((j) => j.timestamp).sort((a, b) => a - b);
    // 8 jobs paced 50 ms apart span at least 7 intervals (a correctness bound of the pacer, not a speed test).
    expect(added[added.length - 1] - added[0]).toBeGreaterThanOrEqual(7 * 50 - 5);
  });

  it('When the command line is wrong, Then it is a usage error naming the problem', async () => {
    const io = { out: capture(), err: capture() };
    const cases: [string[], RegExp][] = [
      [[], /exactly one of --all, --group ID, --patients FILE/],
      [['--all', '--group', 'g1'], /exactly one of/],
      [['--all', '--rate', 'fast'], /--rate must be patients per second/],
      [['--all', '--since', 'yesterday'], /--since must be a date/],
      [['--all', '--models', 'nope'], /unknown model\(s\) nope/],
      [['--all', '--strategy', 'magic'], /--strategy must be auto, bulk or search/],
      [['--patients', join(dir, 'missing.txt')], /cannot read/],
      [['--all', '--source', 'other'], /unknown source 'other'/],
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
