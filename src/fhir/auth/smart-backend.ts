import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { BaseUrlGuard } from '../base-url-guard.js';
import { OAuthTokenAuth } from './oauth-token-auth.js';
import { loadSigningKey, type SigningAlg, type SigningKey } from './signing-key.js';
import { discoverSmartConfiguration } from './smart-configuration.js';
import { assertTokenUrlAllowed, type IssuedToken, requestToken } from './token-endpoint.js';

/** Lifetime of a client assertion: 240 s, under SMART's 5-minute maximum with room for clock skew. */
const ASSERTION_LIFETIME_S = 240;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface SmartBackendSettings {
  clientId: string;
  /** PEM or JWK private key, or `@/path/to/file`. */
  privateKey: string;
  keyId: string;
  alg: SigningAlg;
  /** Space-separated SMART scopes, e.g. `system/*.rs system/RiskAssessment.c`. */
  scope: string;
  /** Skips discovery when set. */
  tokenUrl?: string;
}

export interface AuthDeps {
  guard: BaseUrlGuard;
  fetch: typeof fetch;
  timeoutMs: number;
  now?: () => number;
}

/** Claims and header of one client assertion (RFC 7523; SMART Backend Services). */
export async function signClientAssertion(
  key: SigningKey,
  s: { alg: SigningAlg; keyId: string; clientId: string; tokenUrl: string },
  nowMs: number = Date.now(),
): Promise<string> {
  const iat = Math.floor(nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: s.alg, kid: s.keyId, typ: 'JWT' })
    .setIssuer(s.clientId)
    .setSubject(s.clientId)
    .setAudience(s.tokenUrl)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + ASSERTION_LIFETIME_S)
    .sign(key);
}

/**
 * SMART Backend Services: discovers the token endpoint (unless configured), then exchanges a
 * `private_key_jwt` client assertion for an access token with `client_credentials`, and caches the
 * token until shortly before `expires_in`. The key is loaded once; discovery is retried on failure.
 */
export class SmartBackendAuth extends OAuthTokenAuth {
  private key?: Promise<SigningKey>;
  private tokenUrl?: Promise<URL>;

  constructor(
    private readonly settings: SmartBackendSettings,
    private readonly deps: AuthDeps,
  ) {
    super(deps.now);
  }

  protected async issue(): Promise<IssuedToken> {
    const s = this.settings;
    this.key ??= loadSigningKey(s.privateKey, s.alg).catch((err) => {
      this.key = undefined;
      throw err;
    });
    const [key, tokenUrl] = await Promise.all([this.key, this.endpoint()]);
    const assertion = await signClientAssertion(key, { ...s, tokenUrl: tokenUrl.href }, (this.deps.now ?? Date.now)());
    return requestToken(
      this.deps.fetch,
      tokenUrl,
      {
        grant_type: 'client_credentials',
        scope: s.scope,
        client_assertion_type: JWT_BEARER,
        client_assertion: assertion,
      },
      this.deps.timeoutMs,
    );
  }

  private endpoint(): Promise<URL> {
    this.tokenUrl ??= (async () => {
      if (this.settings.tokenUrl) return assertTokenUrlAllowed(this.settings.tokenUrl);
      const { guard, fetch, timeoutMs } = this.deps;
      const cfg = await discoverSmartConfiguration(guard, fetch, this.settings.alg, timeoutMs);
      return assertTokenUrlAllowed(cfg.token_endpoint);
    })().catch((err) => {
      this.tokenUrl = undefined;
      throw err;
    });
    return this.tokenUrl;
  }
}
