import type { IssuedToken } from './token-endpoint.js';

/** Refresh this long before expiry at most: 60 s. */
const MAX_REFRESH_MARGIN_MS = 60_000;
/** ...and at most this share of the lifetime, so short-lived tokens are still reused. */
const REFRESH_MARGIN_SHARE = 0.2;

/**
 * Caches one access token until shortly before it expires (min(60 s, 20 % of its lifetime) early,
 * so a request never leaves with a token about to lapse). Concurrent callers share one in-flight
 * token request. `invalidate()` after a 401 drops it.
 */
export class TokenCache {
  private token?: { value: string; refreshAt: number };
  private inflight?: Promise<string>;
  private generation = 0;

  constructor(
    private readonly issue: () => Promise<IssuedToken>,
    private readonly now: () => number = Date.now,
  ) {}

  /** A valid token, fetching a new one when none is cached or the cached one is due for refresh. */
  async get(): Promise<string> {
    if (this.token && this.now() < this.token.refreshAt) return this.token.value;
    this.inflight ??= this.refresh();
    return this.inflight;
  }

  invalidate(): void {
    this.token = undefined;
    this.generation++; // a request in flight while we invalidate must not re-populate the cache
  }

  private async refresh(): Promise<string> {
    const generation = this.generation;
    try {
      const issued = await this.issue();
      const lifetimeMs = issued.expiresInS * 1000;
      const margin = Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs * REFRESH_MARGIN_SHARE);
      if (generation === this.generation) {
        this.token = { value: issued.accessToken, refreshAt: this.now() + lifetimeMs - margin };
      }
      return issued.accessToken;
    } finally {
      this.inflight = undefined;
    }
  }
}
