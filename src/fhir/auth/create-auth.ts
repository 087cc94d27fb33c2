import type { SourceAuth } from '../../config/sources.js';
import type { BaseUrlGuard } from '../base-url-guard.js';
import { type AuthProvider, noAuth, staticBearer } from './auth-provider.js';
import { ClientCredentialsAuth } from './client-credentials.js';
import { SmartBackendAuth } from './smart-backend.js';

/** The auth provider for one source's configured strategy. */
export function createAuth(
  auth: SourceAuth,
  deps: { guard: BaseUrlGuard; fetch: typeof fetch; timeoutMs: number; now?: () => number },
): AuthProvider {
  switch (auth.type) {
    case 'none':
      return noAuth;
    case 'bearer':
      return staticBearer(auth.token);
    case 'smart-backend':
      return new SmartBackendAuth(auth, deps);
    case 'client-credentials':
      return new ClientCredentialsAuth(auth, deps);
  }
}
