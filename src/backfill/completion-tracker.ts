import type { QueueEvents } from 'bullmq';
import type { AssessJobResult, AssessQueue } from '../jobs/assess-queue.js';

/** How a backfill job ended: assessed, failed for good, or skipped (record unchanged for every model). */
export type JobEnd = 'done' | 'failed' | 'skipped';

/** Jobs that finished before they were tracked (fast workers), remembered briefly. */
const EARLY_LIMIT = 10_000;
/** Direct state checks of pending jobs, in case a completion event was missed (ms). */
const RECONCILE_EVERY_MS = 5_000;

/** `skipped` when no model computed anything new; `done` otherwise. */
export function endOf(result: AssessJobResult | undefined): JobEnd {
  const list = result?.assessments ?? [];
  return list.length > 0 && list.every((a) => a.skipped) ? 'skipped' : 'done';
}

/**
 * Follows the completion of the jobs a backfill enqueued, from the assess queue's events (and a
 * periodic direct check, since QueueEvents can miss events emitted while it (re)connects).
 */
export class CompletionTracker {
  private readonly pending = new Set<string>();
  private readonly early = new Map<string, JobEnd>();
  private waiters: (() => void)[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly queue: AssessQueue,
    private readonly events: QueueEvents,
    private readonly onEnd: (jobId: string, end: JobEnd) => void,
  ) {}

  start(): void {
    this.events.on('completed', this.onCompleted);
    this.events.on('failed', this.onFailed);
    this.timer = setInterval(() => void this.reconcile().catch(() => {}), RECONCILE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    this.events.off('completed', this.onCompleted);
    this.events.off('failed', this.onFailed);
    clearInterval(this.timer);
    this.wake();
  }

  get outstanding(): number {
    return this.pending.size;
  }

  /** Starts following a job (which may already have finished). */
  track(jobId: string): void {
    const end = this.early.get(jobId);
    if (end) {
      this.early.delete(jobId);
      this.onEnd(jobId, end);
    } else this.pending.add(jobId);
  }

  /** Checks every pending job's state directly (resume, missed events). */
  async reconcile(): Promise<void> {
    for (const id of [...this.pending]) {
      const job = await this.queue.getJob(id);
      const state = job ? await job.getState() : 'missing';
      if (state === 'completed') this.finish(id, endOf(job?.returnvalue));
      else if (state === 'failed') this.finish(id, 'failed');
      else if (state === 'missing' || state === 'unknown') this.finish(id, 'done'); // removed after its retention
    }
  }

  /** Resolves once fewer than `limit` jobs are outstanding (or the signal aborts). */
  async waitBelow(limit: number, signal?: AbortSignal): Promise<void> {
    while (this.pending.size >= Math.max(1, limit) && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.waiters.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  private readonly onCompleted = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => {
    this.finish(jobId, endOf(returnvalue as AssessJobResult));
  };

  private readonly onFailed = ({ jobId }: { jobId: string }) => {
    this.finish(jobId, 'failed');
  };

  private finish(jobId: string, end: JobEnd): void {
    if (!this.pending.delete(jobId)) {
      if (this.early.size >= EARLY_LIMIT) this.early.delete(this.early.keys().next().value as string);
      this.early.set(jobId, end);
      return;
    }
    this.onEnd(jobId, end);
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
