/**
 * Spaces calls `1/rate` seconds apart (no bursts), so a backfill enqueues at its `--rate` whatever
 * the enumeration's speed. A rate of 0 means no pacing.
 */
export class Pacer {
  private nextAt = 0;

  constructor(private readonly perSecond: number) {}

  /** Resolves at the next slot (or at once when the signal is aborted). */
  async next(signal?: AbortSignal): Promise<void> {
    if (this.perSecond <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + 1000 / this.perSecond;
    if (at <= now || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', done); // one listener per wait would pile up over a long run
        resolve();
      };
      const t = setTimeout(done, at - now);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
