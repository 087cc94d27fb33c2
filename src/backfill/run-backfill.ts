import { createHash } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import type { SourceRegistry } from '../fhir/source-client.js';
import { type AssessQueue, enqueueAssessment } from '../jobs/assess-queue.js';
import { describeFailure, failureSummary } from '../jobs/job-failure.js';
import { ASSESS_QUEUE } from '../jobs/queue-names.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import { workerConnection } from '../jobs/redis-connection.js';
import { type BackfillCounts, type Checkpoint, CheckpointStore, ZERO_COUNTS } from './checkpoint.js';
import { chooseEnumerator, type Selection } from './choose-enumerator.js';
import { CompletionTracker, type JobEnd } from './completion-tracker.js';
import type { Enumerator } from './cursor.js';
import { Pacer } from './pacer.js';

export type { Selection } from './choose-enumerator.js';

export interface BackfillOptions {
  source: string;
  selection: Selection;
  /** ISO date or instant: only patients whose data changed since then. */
  since?: string;
  models?: string[];
  /** Jobs enqueued per second (0 = as fast as the enumeration goes). */
  ratePerSecond: number;
  strategy?: 'auto' | 'bulk' | 'search';
  dryRun?: boolean;
  /** Forget an earlier run of the same command and start over. */
  restart?: boolean;
  /** Follow the jobs until they finish (default true); false returns once everything is enqueued. */
  wait?: boolean;
  /** Most jobs enqueued but not finished at once (default 1,000): the enumeration waits beyond it. */
  maxOutstanding?: number;
  /** Page size of paged searches (default 200). */
  pageSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: BackfillProgress) => void;
}

export interface BackfillDeps {
  sources: SourceRegistry;
  assessQueue: AssessQueue;
  redis: RedisClient;
  prefix: string;
  redisUrl: string;
  /** Resource types the models read. */
  modelTypes: string[];
}

export interface BackfillProgress extends BackfillCounts {
  runId: string;
  /**
   * `exporting`: a Bulk `$export` runs on the EHR; `enumerating`: patients are listed and enqueued;
   * `retrying`: the failed assessments of a finished run are retried; `waiting`: for the last jobs.
   */
  phase: 'exporting' | 'enumerating' | 'retrying' | 'waiting' | 'done' | 'interrupted';
  strategy?: string;
  /** How the population is listed (the enumerator's label), e.g. `by paging Patient search`. */
  enumeration?: string;
  total?: number;
  outstanding: number;
  /** Set when the run resumed an interrupted one. */
  resumed: boolean;
  status?: string;
  /**
   * Final report only: why the run's assessments failed, grouped by explanation, from a sample of
   * at most FAILURE_SAMPLE failed jobs (`sampled`), each with one example job.
   */
  failures?: { reasons: { reason: string; count: number; jobId: string; patientId?: string }[]; sampled: number };
}

/** Failed jobs read (and explained) for the final report. */
const FAILURE_SAMPLE = 50;

/** Checkpoint saves while enumerating: every this many items or this many ms, whichever comes first. */
const SAVE_EVERY_ITEMS = 100;
const SAVE_EVERY_MS = 1_000;

/** The run id: the same command (source, selection, since, models) resumes the same run. */
export function backfillRunId(o: Pick<BackfillOptions, 'source' | 'selection' | 'since' | 'models'>): string {
  const sel = o.selection.kind === 'patients' ? { kind: 'patients', ids: o.selection.ids } : o.selection;
  const text = JSON.stringify([o.source, sel, o.since ?? null, o.models ?? null]);
  return `bf-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/**
 * Enqueues an assessment at backfill priority for every patient of the selection, at `ratePerSecond`,
 * checkpointing its position and counts in Redis so an interrupted run resumes where it stopped, then
 * follows the jobs to completion.
 */
export async function runBackfill(deps: BackfillDeps, opts: BackfillOptions): Promise<BackfillProgress> {
  const runId = backfillRunId(opts);
  const store = new CheckpointStore(deps.redis, deps.prefix);
  if (opts.restart) await store.clear(runId);
  if (opts.dryRun) return dryRun(deps, opts, runId);
  const previous = await store.load(runId);
  if (previous?.state === 'done' && !previous.failed)
    return progressOf(previous, 'done', 0, false, 'already complete (use --restart to run again)');
  const cp: Checkpoint = previous ?? { runId, state: 'running', ...ZERO_COUNTS, started: now(), updated: now() };
  const run = new BackfillRun(deps, opts, store, cp, !!previous);
  return run.execute();
}

class BackfillRun {
  private tracker?: CompletionTracker;
  private finished: { id: string; end: JobEnd }[] = [];
  /** The enumerator's label, once chosen. */
  private enumeration?: string;
  private lastSave = Date.now();
  private sinceSave = 0;
  private readonly pacer: Pacer;

  constructor(
    private readonly deps: BackfillDeps,
    private readonly opts: BackfillOptions,
    private readonly store: CheckpointStore,
    private readonly cp: Checkpoint,
    private readonly resumed: boolean,
  ) {
    this.pacer = new Pacer(opts.ratePerSecond);
  }

  async execute(): Promise<BackfillProgress> {
    const events = new QueueEvents(ASSESS_QUEUE, {
      connection: workerConnection(this.deps.redisUrl),
      prefix: this.deps.prefix,
    });
    events.on('error', () => {});
    await events.waitUntilReady();
    this.tracker = new CompletionTracker(this.deps.assessQueue, events, (id, end) => {
      this.cp[end]++;
      this.finished.push({ id, end });
      this.report(this.cp.state === 'running' || this.cp.state === 'interrupted' ? 'enumerating' : 'waiting');
    });
    this.tracker.start();
    try {
      for (const id of await this.store.pending(this.cp.runId)) this.tracker.track(id);
      await this.tracker.reconcile();
      if (this.cp.state === 'done') await this.retryFailed();
      else if (this.cp.state !== 'enumerated') await this.enumerate();
      if (!this.aborted && this.opts.wait !== false) await this.waitForJobs();
      const phase = this.aborted ? 'interrupted' : this.cp.state === 'done' ? 'done' : 'waiting';
      await this.save();
      const p = progressOf(this.cp, phase, this.tracker.outstanding, this.resumed, undefined, this.enumeration);
      if (this.cp.failed > 0) p.failures = await this.failureReasons();
      this.opts.onProgress?.(p);
      return p;
    } catch (err) {
      // The EHR or Redis failed mid-way: keep what was done, so running the command again resumes.
      if (this.cp.state !== 'enumerated') this.cp.state = 'interrupted';
      await this.save().catch(() => {});
      throw err;
    } finally {
      this.tracker.stop();
      await events.close();
    }
  }

  private get aborted(): boolean {
    return !!this.opts.signal?.aborted;
  }

  private async enumerate(): Promise<void> {
    const enumerator = await this.enumerator();
    this.enumeration = enumerator.label;
    this.cp.strategy = enumerator.strategy;
    this.cp.state = 'running';
    await this.save();
    this.report('enumerating');
    for await (const item of enumerator.iterate(this.cp.cursor, this.opts.signal)) {
      if (item.patientId && !(await this.enqueue(item.patientId))) break; // aborted: this item is read again on resume
      this.cp.enumerated += item.patientId ? 1 : 0;
      this.cp.cursor = item.cursor;
      this.cp.total ??= enumerator.total;
      if (++this.sinceSave >= SAVE_EVERY_ITEMS || Date.now() - this.lastSave > SAVE_EVERY_MS) await this.save();
    }
    this.cp.state = this.aborted ? 'interrupted' : 'enumerated';
    this.cp.total ??= enumerator.total;
    await this.save();
  }

  private enumerator(): Promise<Enumerator> {
    return chooseEnumerator({
      sources: this.deps.sources,
      source: this.opts.source,
      selection: this.opts.selection,
      since: this.opts.since,
      types: this.deps.modelTypes,
      strategy: this.cp.strategy ?? this.opts.strategy ?? 'auto',
      pageSize: this.opts.pageSize,
      onStatus: (status) => this.report('exporting', status),
    });
  }

  /** Enqueues one patient (once per run); false when the run was aborted while waiting for a slot. */
  private async enqueue(patientId: string): Promise<boolean> {
    if (await this.store.isSeen(this.cp.runId, patientId)) {
      this.cp.duplicates++;
      return true;
    }
    await this.tracker?.waitBelow(this.opts.maxOutstanding ?? 1000, this.opts.signal);
    await this.pacer.next(this.opts.signal);
    if (this.aborted) return false;
    const job = await enqueueAssessment(
      this.deps.assessQueue,
      {
        source: this.opts.source,
        patientId,
        trigger: 'backfill',
        priority: 'backfill',
        models: this.opts.models,
        requestId: this.cp.runId,
      },
      0,
    );
    await this.store.enqueued(this.cp.runId, patientId, String(job.id));
    this.cp.enqueued++;
    this.tracker?.track(String(job.id));
    this.report('enumerating');
    return true;
  }

  /**
   * The same command after a finished run with failures: its failed jobs run again (attempts reset),
   * and those found completed meanwhile (`fhir-assess jobs retry`) count as finished.
   */
  private async retryFailed(): Promise<void> {
    const ids = await this.store.failed(this.cp.runId);
    const taken: string[] = [];
    for (const id of ids) {
      const job = await this.deps.assessQueue.getJob(id);
      if (!job) continue; // removed after its retention: it stays counted as failed
      if ((await job.getState()) === 'failed')
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      taken.push(id);
    }
    this.cp.failed -= taken.length;
    this.cp.state = 'enumerated';
    await this.store.unfail(this.cp.runId, taken);
    await this.save();
    this.report('retrying', `retrying ${taken.length} failed assessment(s) of this run`);
    for (const id of taken) this.tracker?.track(id);
    await this.tracker?.reconcile();
  }

  /** Why this run's jobs failed, grouped, from a sample (ids, paths and the EHR's answer; no PHI). */
  private async failureReasons(): Promise<NonNullable<BackfillProgress['failures']>> {
    const ids = (await this.store.failed(this.cp.runId)).slice(0, FAILURE_SAMPLE);
    const jobs = (await Promise.all(ids.map((id) => this.deps.assessQueue.getJob(id)))).filter((j) => !!j);
    const byReason = new Map<string, { reason: string; count: number; jobId: string; patientId?: string }>();
    for (const job of jobs) {
      const reason = failureSummary(describeFailure(job));
      const seen = byReason.get(reason);
      if (seen) seen.count++;
      else byReason.set(reason, { reason, count: 1, jobId: String(job.id), patientId: job.data.patientId });
    }
    return { reasons: [...byReason.values()].sort((a, b) => b.count - a.count), sampled: jobs.length };
  }

  private async waitForJobs(): Promise<void> {
    this.report('waiting');
    await this.tracker?.waitBelow(1, this.opts.signal);
    if (!this.aborted) this.cp.state = 'done';
  }

  private async save(): Promise<void> {
    const ended = this.finished;
    this.finished = [];
    const failed = ended.filter((e) => e.end === 'failed').map((e) => e.id);
    await this.store.finished(
      this.cp.runId,
      ended.map((e) => e.id),
      failed,
    );
    await this.store.save(this.cp);
    this.lastSave = Date.now();
    this.sinceSave = 0;
  }

  private report(phase: BackfillProgress['phase'], status?: string): BackfillProgress {
    const p = progressOf(this.cp, phase, this.tracker?.outstanding ?? 0, this.resumed, status, this.enumeration);
    this.opts.onProgress?.(p);
    return p;
  }
}

/** Lists the selection without enqueueing anything or writing a checkpoint. */
async function dryRun(deps: BackfillDeps, opts: BackfillOptions, runId: string): Promise<BackfillProgress> {
  const counts = { ...ZERO_COUNTS };
  const enumerator = await chooseEnumerator({
    sources: deps.sources,
    source: opts.source,
    selection: opts.selection,
    since: opts.since,
    types: deps.modelTypes,
    strategy: opts.strategy ?? 'auto',
    pageSize: opts.pageSize,
  });
  const seen = new Set<string>();
  for await (const item of enumerator.iterate(undefined, opts.signal)) {
    if (!item.patientId) continue;
    counts.enumerated++;
    if (seen.has(item.patientId)) counts.duplicates++;
    else seen.add(item.patientId);
  }
  const cp = { runId, state: 'done', strategy: enumerator.strategy, total: seen.size, ...counts } as Checkpoint;
  return progressOf(cp, 'done', 0, false, `dry run: ${seen.size} patients would be enqueued`, enumerator.label);
}

function progressOf(
  cp: Checkpoint,
  phase: BackfillProgress['phase'],
  outstanding: number,
  resumed: boolean,
  status?: string,
  enumeration?: string,
): BackfillProgress {
  const { runId, strategy, total, enumerated, enqueued, duplicates, done, failed, skipped } = cp;
  return {
    runId,
    phase,
    strategy,
    enumeration,
    total,
    enumerated,
    enqueued,
    duplicates,
    done,
    failed,
    skipped,
    outstanding,
    resumed,
    status,
  };
}

const now = () => new Date().toISOString();
