import { RemoteModelError } from './errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A per-endpoint circuit breaker (in-process): after `failureThreshold` consecutive failed calls it opens and
 * fails calls fast for `cooldownMs`; then it lets one trial call through (half-open), closing on success and
 * re-opening on failure. Only endpoint-health failures count (timeouts, network errors, 429/5xx after retries),
 * not a bad reply to one record.
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt?: number;
  private trialInFlight = false;

  constructor(
    private readonly failureThreshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /**
   * Admits a call or throws.
   * @throws RemoteModelError `breaker-open` (transient) while open, or while a half-open trial is in flight
   */
  admit(): void {
    const state = this.state;
    if (state === 'closed') return;
    if (state === 'half-open' && !this.trialInFlight) {
      this.trialInFlight = true;
      return;
    }
    const waitMs = Math.max(0, this.cooldownMs - (this.now() - (this.openedAt ?? 0)));
    throw new RemoteModelError(
      'breaker-open',
      `model endpoint circuit open after ${this.failures} consecutive failures; next trial in ${waitMs} ms`,
      undefined,
      waitMs,
    );
  }

  success(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.trialInFlight = false;
  }

  failure(): void {
    this.failures += 1;
    this.trialInFlight = false;
    if (this.failures >= this.failureThreshold || this.openedAt !== undefined) this.openedAt = this.now();
  }
}
