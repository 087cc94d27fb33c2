/**
 * A counting semaphore: at most `limit` holders at once, the rest wait in FIFO order. Used to cap
 * the requests in flight to one EHR (per process), so a burst of assessments cannot flood it.
 */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error('Semaphore limit must be a positive integer');
  }

  /** Holders right now. */
  get inUse(): number {
    return this.active;
  }

  /** Runs `work` once a slot is free and releases the slot when it settles. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    // Hand the slot straight to the next waiter: `active` stays the same.
    if (next) next();
    else this.active--;
  }
}
