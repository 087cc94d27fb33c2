import type { Group, Observation } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/backfill/checkpoint.js';
import { activity, line } from '../../src/backfill/progress-bar.js';
import { type BackfillProgress, backfillRunId, runBackfill } from '../../src/backfill/run-backfill.js';
import { type BackfillFixture, startBackfillFixture } from './backfill-fixture.js';

/**
 * Backfill against the sandbox EHR and real Redis, with real workers: both enumeration paths (Bulk
 * `$export`, paged search), resume after an interruption, `--since`, dry run.
 */
describe('backfill', () => {
  let f: BackfillFixture;

  beforeAll(async () => {
    f = await startBackfillFixture('backfill');
  });
  afterAll(async () => {
    await f?.close();
  });

  const finished = (p: BackfillProgress) => p.done + p.failed + p.skipped;

  it('When the EHR advertises Bulk $export, Then every patient is enumerated from the NDJSON and assessed once at backfill priority', async () => {
    const statuses: string[] = [];
    const lines = new Set<string>();
    const result = await runBackfill(f.deps, {
      source: 'ehr',
      selection: { kind: 'all' },
      ratePerSecond: 0,
      onProgress: (p) => {
        if (p.status) statuses.push(p.status);
        lines.add(activity(p));
      },
    });
    expect(result.strategy).toBe('bulk');
    expect(statuses).toContain('exporting (poll 1)'); // the sandbox's 202 X-Progress, polled with Retry-After
    // The progress says what runs: the export on the EHR, then the enumeration of its files.
    expect(lines).toContain('exporting via Bulk $export (Patient/$export) [EHR: exporting (poll 1)]');
    expect(lines).toContain('enumerating via Bulk $export (Patient/$export)');
    expect(result.phase).toBe('done');
    expect(result).toMatchObject({ total: 16, enumerated: 16, enqueued: 16, duplicates: 0, failed: 0 });
    expect(finished(result)).toBe(16);
    expect(result.done).toBe(16); // first run: every record is new
    const jobs = (await f.service.assessQueue.getJobs(['completed'])).filter((j) => j.data.requestId === result.runId);
    expect(new Set(jobs.map((j) => j.data.patientId))).toEqual(new Set(f.patientIds));
    expect(jobs.every((j) => j.data.priority === 'backfill' && j.priority === 10)).toBe(true);
    const impressions = await f.ehr.searchAll('ClinicalImpression', { _count: '100' });
    expect(new Set(impressions.map((c) => (c as { subject: { reference: string } }).subject.reference)).size).toBe(16);

    // The same command again: already complete, nothing enqueued.
    const again = await runBackfill(f.deps, { source: 'ehr', selection: { kind: 'all' }, ratePerSecond: 0 });
    expect(again.status).toMatch(/already complete/);
    expect(again.enqueued).toBe(16);
  });

  it('When paging Patient search instead (restart), Then the same 16 patients are found and skipped as unchanged, and the progress says paging, never exporting', async () => {
    const reports: BackfillProgress[] = [];
    const result = await runBackfill(f.deps, {
      source: 'ehr',
      selection: { kind: 'all' },
      ratePerSecond: 0,
      strategy: 'search',
      restart: true,
      pageSize: 5,
      onProgress: (p) => reports.push(p),
    });
    expect(reports.some((p) => p.phase === 'exporting' || line(p).includes('export'))).toBe(false);
    expect(reports.filter((p) => p.phase === 'enumerating').map(activity)).toContain(
      'enumerating by paging Patient search',
    );
    // Done and skipped counts move while it goes, not only at the end.
    expect(reports.some((p) => p.phase !== 'done' && p.skipped > 0)).toBe(true);
    expect(result).toMatchObject({
      strategy: 'search',
      phase: 'done',
      total: 16,
      enumerated: 16,
      enqueued: 16,
      skipped: 16,
      done: 0,
    });
  });

  it('When a paged backfill is interrupted mid-way, Then running it again resumes from the checkpoint (next link + counts) and enqueues nobody twice', async () => {
    const controller = new AbortController();
    const opts = {
      source: 'ehr',
      selection: { kind: 'all' as const },
      models: ['fhir-assess-risk-equations'], // a different run id from the tests above
      ratePerSecond: 0,
      strategy: 'search' as const,
      pageSize: 5,
    };
    const first = await runBackfill(f.deps, {
      ...opts,
      signal: controller.signal,
      onProgress: (p) => p.enqueued >= 7 && controller.abort(),
    });
    expect(first.phase).toBe('interrupted');
    expect(first.enqueued).toBe(7);
    const cp = await new CheckpointStore(f.service.redis, f.cfg.QUEUE_PREFIX).load(backfillRunId(opts));
    expect(cp).toMatchObject({ state: 'interrupted', strategy: 'search', enqueued: 7 });
    expect(cp?.cursor).toMatchObject({ kind: 'search', phase: 0, index: 2 }); // 7 = page 1 (5) + 2 of page 2
    expect((cp?.cursor as { url?: string } | undefined)?.url).toContain('_offset=5');

    const second = await runBackfill(f.deps, opts);
    expect(second.resumed).toBe(true);
    expect(second).toMatchObject({ phase: 'done', enumerated: 16, enqueued: 16, duplicates: 0 });
    expect(finished(second)).toBe(16);
    const jobs = (await f.service.assessQueue.getJobs(['completed'])).filter((j) => j.data.requestId === second.runId);
    expect(jobs.map((j) => j.data.patientId).sort()).toEqual(f.patientIds);
  });

  it('When a Group is backfilled through Bulk export and interrupted, Then the resumed run continues at the NDJSON line it stopped at', async () => {
    const members = f.patientIds.slice(0, 6);
    const group = await f.ehr.create<Group>({
      resourceType: 'Group',
      type: 'person',
      actual: true,
      member: members.map((id) => ({ entity: { reference: `Patient/${id}` } })),
    });
    const controller = new AbortController();
    const opts = { source: 'ehr', selection: { kind: 'group' as const, id: group.id! }, ratePerSecond: 0 };
    const first = await runBackfill(f.deps, {
      ...opts,
      signal: controller.signal,
      onProgress: (p) => p.enqueued >= 2 && controller.abort(),
    });
    expect(first).toMatchObject({ phase: 'interrupted', strategy: 'bulk', enqueued: 2 });
    const cp = await new CheckpointStore(f.service.redis, f.cfg.QUEUE_PREFIX).load(first.runId);
    expect(cp?.cursor).toMatchObject({ kind: 'bulk', file: 0, line: 2 });
    const second = await runBackfill(f.deps, opts);
    expect(second).toMatchObject({ phase: 'done', resumed: true, enqueued: 6, duplicates: 0, total: 6 });
    expect(finished(second)).toBe(6);
  });

  it('When --since is given, Then only patients with data changed since then are enqueued, by both paths; a dry run enqueues nothing', async () => {
    const since = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 5)); // lastUpdated is millisecond-precise: step past `since`
    const changed = f.patientIds[3];
    await f.ehr.create<Observation>({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }] },
      subject: { reference: `Patient/${changed}` },
      effectiveDateTime: '2021-03-30',
      valueQuantity: { value: 190, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
    });
    const before = await f.service.assessQueue.getJobCounts('completed');
    const dry = await runBackfill(f.deps, {
      source: 'ehr',
      selection: { kind: 'all' },
      since,
      ratePerSecond: 0,
      dryRun: true,
    });
    expect(dry.status).toBe('dry run: 1 patients would be enqueued');
    expect((await f.service.assessQueue.getJobCounts('completed')).completed).toBe(before.completed);

    for (const strategy of ['bulk', 'search'] as const) {
      const r = await runBackfill(f.deps, {
        source: 'ehr',
        selection: { kind: 'all' },
        since,
        ratePerSecond: 0,
        strategy,
        restart: true,
      });
      expect(r).toMatchObject({ strategy, phase: 'done', enqueued: 1 });
      const jobs = (await f.service.assessQueue.getJobs(['completed'])).filter((j) => j.data.requestId === r.runId);
      expect([...new Set(jobs.map((j) => j.data.patientId))]).toEqual([changed]); // same run id for both paths
    }
  });
});
