import type { AuthProvider } from './auth-provider.js';
import { TokenCache } from './token-cache.js';
import type { IssuedToken } from './token-endpoint.js';

/**
 * An OAuth access token obtained from a token endpoint and cached until shortly before it expires.
 * Subclasses say how a token is requested (client secret, signed client assertion).
 */
export abstract class OAuthTokenAuth implements AuthProvider {
  private readonly cache: TokenCache;
  private requests = 0;

  constructor(now?: () => number) {
    this.cache = new TokenCache(() => {
      this.requests++;
      return this.issue();
    }, now);
  }

  /** Requests one new token from the token endpoint. */
  protected abstract issue(): Promise<IssuedToken>;

  get tokenRequests(): number {
    return this.requests;
  }

  async authorization(): Promise<string> {
    return `Bearer ${await this.cache.get()}`;
  }

  invalidate(): boolean {
    this.cache.invalidate();
    return true;
  }
}
