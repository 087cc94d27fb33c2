import type { RedisClient } from '../jobs/redis-connection.js';
import type { Cursor } from './cursor.js';

/** How long an unfinished (or finished) backfill's checkpoint is kept, s: 7 days. */
export const CHECKPOINT_TTL_S = 7 * 24 * 3600;

/** Counts a backfill reports; kept in the checkpoint so a resumed run continues them. */
export interface BackfillCounts {
  /** Items the enumeration produced (resources read, patients or not). */
  enumerated: number;
  /** Patients enqueued (each once per run). */
  enqueued: number;
  /** Patients found again (another resource of theirs, or seen before an interruption). */
  duplicates: number;
  /** Jobs finished: assessed (something computed) / failed for good / skipped (record unchanged). */
  done: number;
  failed: number;
  skipped: number;
}

/** A backfill run's state in Redis (`{prefix}:backfill:{runId}`): positions and counts, no PHI. */
export interface Checkpoint extends BackfillCounts {
  runId: string;
  state: 'running' | 'interrupted' | 'enumerated' | 'done';
  strategy?: 'bulk' | 'search' | 'list';
  cursor?: Cursor;
  total?: number;
  started: string;
  updated: string;
}

export const ZERO_COUNTS: BackfillCounts = {
  enumerated: 0,
  enqueued: 0,
  duplicates: 0,
  done: 0,
  failed: 0,
  skipped: 0,
};

/**
 * The checkpoint plus three sets: `seen` (patients already enqueued by this run, so a resumed or
 * repeated enumeration enqueues nobody twice), `pending` (job ids not yet finished, re-checked on
 * resume) and `failed` (job ids that failed for good, retried when the same command runs again).
 */
export class CheckpointStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  key(runId: string, part = ''): string {
    return `${this.prefix}:backfill:${runId}${part ? `:${part}` : ''}`;
  }

  async load(runId: string): Promise<Checkpoint | undefined> {
    const raw = await this.redis.get(this.key(runId));
    return raw ? (JSON.parse(raw) as Checkpoint) : undefined;
  }

  async save(cp: Checkpoint): Promise<void> {
    cp.updated = new Date().toISOString();
    await this.redis
      .multi()
      .set(this.key(cp.runId), JSON.stringify(cp), 'EX', CHECKPOINT_TTL_S)
      .expire(this.key(cp.runId, 'seen'), CHECKPOINT_TTL_S)
      .expire(this.key(cp.runId, 'pending'), CHECKPOINT_TTL_S)
      .expire(this.key(cp.runId, 'failed'), CHECKPOINT_TTL_S)
      .exec();
  }

  /** Forgets a run entirely (`--restart`). */
  async clear(runId: string): Promise<void> {
    await this.redis.del(
      this.key(runId),
      this.key(runId, 'seen'),
      this.key(runId, 'pending'),
      this.key(runId, 'failed'),
    );
  }

  async isSeen(runId: string, patientId: string): Promise<boolean> {
    return (await this.redis.sismember(this.key(runId, 'seen'), patientId)) === 1;
  }

  /** Marks a patient enqueued and its job pending, atomically. */
  async enqueued(runId: string, patientId: string, jobId: string): Promise<void> {
    await this.redis.multi().sadd(this.key(runId, 'seen'), patientId).sadd(this.key(runId, 'pending'), jobId).exec();
  }

  /** Jobs that ended; those that failed are remembered for a retry. */
  async finished(runId: string, jobIds: string[], failedIds: string[] = []): Promise<void> {
    const tx = this.redis.multi();
    if (jobIds.length) tx.srem(this.key(runId, 'pending'), ...jobIds);
    if (failedIds.length) tx.sadd(this.key(runId, 'failed'), ...failedIds);
    if (jobIds.length || failedIds.length) await tx.exec();
  }

  /** Failed jobs taken up again (retried, or found completed): pending once more, no longer failed. */
  async unfail(runId: string, jobIds: string[]): Promise<void> {
    if (!jobIds.length) return;
    await this.redis
      .multi()
      .srem(this.key(runId, 'failed'), ...jobIds)
      .sadd(this.key(runId, 'pending'), ...jobIds)
      .exec();
  }

  async failed(runId: string): Promise<string[]> {
    return this.redis.smembers(this.key(runId, 'failed'));
  }

  async pending(runId: string): Promise<string[]> {
    return this.redis.smembers(this.key(runId, 'pending'));
  }
}
