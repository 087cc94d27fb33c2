import type { CapabilityStatement } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import { FHIR_BASE_PATH } from '../constants.js';
import { errorOutcome, type SandboxContext } from '../context.js';
import type { SandboxApp } from '../http-server.js';
import { fhirPath } from './request-kind.js';
import {
  AccessTokens,
  ASSERTION_ALGS,
  registerTokenEndpoint,
  type SmartClient,
  TOKEN_PATH,
} from './smart-token-endpoint.js';

export type { SmartClient } from './smart-token-endpoint.js';

/** Default lifetime of issued access tokens: 300 s (short-lived, as backend-services tokens are). */
export const DEFAULT_TOKEN_LIFETIME_S = 300;

/** FHIR paths answered without a token: discovery only. */
const PUBLIC_PATHS = new Set(['metadata', '.well-known/smart-configuration']);

const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

/**
 * SMART Backend Services required (Epic-like): every FHIR request but `metadata` and
 * `.well-known/smart-configuration` answers 401 (`WWW-Authenticate: Bearer`, OperationOutcome
 * `login`) without an unexpired access token from the sandbox's own token endpoint
 * (`{origin}/oauth2/token`, see smart-token-endpoint.ts). Discovery advertises that endpoint,
 * `client_credentials`, `private_key_jwt` and RS384/ES384; the CapabilityStatement names it in
 * `rest.security` (SMART `oauth-uris`). Scopes are granted as requested, not enforced per resource.
 */
export function requireSmartBackendAuth(
  app: SandboxApp,
  ctx: SandboxContext,
  clients: readonly SmartClient[],
  logger: Logger,
  tokenLifetimeS = DEFAULT_TOKEN_LIFETIME_S,
): void {
  const tokens = new AccessTokens(tokenLifetimeS);
  const tokenUrl = () => `${ctx.baseUrl.slice(0, -FHIR_BASE_PATH.length)}${TOKEN_PATH}`;
  registerTokenEndpoint(app, clients, tokens, tokenUrl, logger);
  app.get(`${FHIR_BASE_PATH}/.well-known/smart-configuration`, async (_req, reply) =>
    reply.type('application/json').send(smartConfiguration(tokenUrl())),
  );
  const unauthorized = errorOutcome(
    'login',
    'Unauthorized: send Authorization: Bearer <access token>; get one from the token endpoint in .well-known/smart-configuration',
  );
  app.addHook('onRequest', async (req, reply) => {
    const path = fhirPath(req.url);
    if (path === undefined || PUBLIC_PATHS.has(path) || tokens.accepts(req.headers.authorization)) return;
    return reply
      .code(401)
      .header('WWW-Authenticate', 'Bearer realm="fhir-assess-sandbox", error="invalid_token"')
      .type('application/fhir+json')
      .send(unauthorized);
  });
  ctx.capabilityEdits.push((cs: CapabilityStatement) => {
    for (const rest of cs.rest ?? []) {
      rest.security = {
        service: [
          {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' },
            ],
          },
        ],
        extension: [{ url: OAUTH_URIS, extension: [{ url: 'token', valueUri: tokenUrl() }] }],
      };
    }
  });
}

/** `.well-known/smart-configuration` for Backend Services (SMART App Launch 2.x). */
function smartConfiguration(tokenEndpoint: string) {
  return {
    token_endpoint: tokenEndpoint,
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
    scopes_supported: ['system/*.rs', 'system/*.read', 'system/*.cruds', 'system/*.write'],
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
  };
}
