import type { Logger } from 'pino';

/** One outbound notification HTTP request. */
export interface DeliveryRequest {
  method: 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Per-attempt timeout in ms. */
  timeoutMs: number;
  /** Short description for logs, e.g. `event-notification #3`. */
  label: string;
  /** Attempts in total for this request; default: the queue's policy. */
  attempts?: number;
  /** Which statuses count as delivered; default 2xx. */
  isSuccess?: (status: number) => boolean;
  /**
   * Asked before every attempt (1-based); a reason stops the delivery without sending, e.g. the
   * Subscription was switched off or (Medplum) a retry whose resource has moved on to a newer version.
   */
  shouldAttempt?: (attempt: number) => string | undefined;
}

/** Outcome callback: `ok` after a 2xx, or false once every attempt failed (or the queue closed). */
export type DeliveryCallback = (ok: boolean, lastStatus?: number) => void;

/** Retry policy: `attempts` in total, delay `baseDelayMs * 2^(n-1)` before retry n. */
export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

interface Job {
  request: DeliveryRequest;
  done?: DeliveryCallback;
}

/**
 * Asynchronous notification delivery with exponential backoff. Requests sharing a key (one
 * Subscription) are delivered one at a time in order, so a receiver never sees event N+1 before
 * event N, even while N is being retried. Timers are unref'd and `close()` aborts everything.
 */
export class DeliveryQueue {
  private readonly queues = new Map<string, Job[]>();
  private readonly running = new Set<string>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly timers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private readonly abort = new AbortController();
  private queued = 0;

  constructor(
    private readonly retry: RetryPolicy,
    private readonly logger: Logger,
  ) {}

  /** Queues a request for `key`; never blocks the caller. */
  enqueue(key: string, request: DeliveryRequest, done?: DeliveryCallback): void {
    if (this.abort.signal.aborted) {
      done?.(false);
      return;
    }
    const queue = this.queues.get(key) ?? [];
    queue.push({ request, done });
    this.queues.set(key, queue);
    this.queued++;
    void this.pump(key);
  }

  /** Requests queued or in flight. */
  pending(): number {
    return this.queued;
  }

  /** Jobs waiting behind the one in flight for `key` (used to skip heartbeats when backed up). */
  backlog(key: string): number {
    return this.queues.get(key)?.length ?? 0;
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Aborts in-flight requests and retry waits; queued jobs report failure. */
  close(): void {
    this.abort.abort();
    for (const t of this.timers) {
      clearTimeout(t.timer);
      t.wake();
    }
  }

  private async pump(key: string): Promise<void> {
    if (this.running.has(key)) return;
    this.running.add(key);
    try {
      for (let job = this.queues.get(key)?.shift(); job; job = this.queues.get(key)?.shift()) {
        const [ok, status] = await this.deliver(job.request);
        this.safeCallback(job, ok, status);
        this.queued--;
      }
    } finally {
      this.running.delete(key);
      this.queues.delete(key);
      if (this.queued === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private async deliver(request: DeliveryRequest): Promise<[boolean, number | undefined]> {
    let status: number | undefined;
    const attempts = request.attempts ?? this.retry.attempts;
    const isSuccess = request.isSuccess ?? ((s: number) => s >= 200 && s < 300);
    for (let attempt = 1; attempt <= attempts && !this.abort.signal.aborted; attempt++) {
      if (attempt > 1) await this.sleep(this.retry.baseDelayMs * 2 ** (attempt - 2));
      if (this.abort.signal.aborted) break;
      const stop = request.shouldAttempt?.(attempt);
      if (stop) {
        this.logger.info({ url: request.url, label: request.label, attempt, reason: stop }, 'notification not sent');
        return [false, status];
      }
      status = await this.attempt(request);
      if (status !== undefined && isSuccess(status)) return [true, status];
      this.logger.warn({ url: request.url, label: request.label, attempt, status }, 'notification attempt failed');
    }
    if (this.abort.signal.aborted) this.logger.debug({ label: request.label }, 'notification dropped: sandbox closed');
    else this.logger.error({ url: request.url, label: request.label, status }, 'notification delivery gave up');
    return [false, status];
  }

  /** One HTTP attempt; returns the status, or undefined on a network error/timeout. */
  private async attempt(request: DeliveryRequest): Promise<number | undefined> {
    try {
      const res = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(request.timeoutMs)]),
      });
      await res.arrayBuffer(); // drain so the connection can be reused
      return res.status;
    } catch {
      return undefined;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.timers.delete(entry);
          resolve();
        }, ms).unref(),
        wake: resolve,
      };
      this.timers.add(entry);
    });
  }

  private safeCallback(job: Job, ok: boolean, status: number | undefined): void {
    try {
      job.done?.(ok, status);
    } catch (err) {
      this.logger.error({ err }, 'notification callback failed');
    }
  }
}
