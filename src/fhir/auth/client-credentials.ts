import { OAuthTokenAuth } from './oauth-token-auth.js';
import type { AuthDeps } from './smart-backend.js';
import { assertTokenUrlAllowed, type IssuedToken, requestToken } from './token-endpoint.js';

export interface ClientCredentialsSettings {
  clientId: string;
  clientSecret: string;
  tokenUrl: string;
  scope?: string;
}

/**
 * OAuth 2.0 client credentials with a client secret (`client_secret_post`), as Medplum's
 * `/oauth2/token` expects. Our own token cache, not MedplumClient's login: that one loops on 401
 * and rejects `azp`-only JWTs (library-notes.md §1, traps C and D).
 */
export class ClientCredentialsAuth extends OAuthTokenAuth {
  private readonly tokenUrl: URL;

  constructor(
    private readonly settings: ClientCredentialsSettings,
    private readonly deps: Omit<AuthDeps, 'guard'>,
  ) {
    super(deps.now);
    this.tokenUrl = assertTokenUrlAllowed(settings.tokenUrl);
  }

  protected issue(): Promise<IssuedToken> {
    const { clientId, clientSecret, scope } = this.settings;
    const form: Record<string, string> = {
      grant_type: 'client_credentials',
      client_id: clientId,
      client_secret: clientSecret,
    };
    if (scope) form.scope = scope;
    return requestToken(this.deps.fetch, this.tokenUrl, form, this.deps.timeoutMs);
  }
}
