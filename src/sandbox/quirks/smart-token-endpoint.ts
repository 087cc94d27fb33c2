import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import type { Logger } from 'pino';
import type { SandboxApp } from '../http-server.js';

/** A client registered with the sandbox for SMART Backend Services: its id and public keys. */
export interface SmartClient {
  clientId: string;
  /** The client's public JWKS (RS384 and/or ES384 keys, each with a `kid`). */
  jwks: JSONWebKeySet;
}

/** Path of the token endpoint on the sandbox's origin (outside the FHIR base, as on real EHRs). */
export const TOKEN_PATH = '/oauth2/token';
/** Signing algorithms SMART Backend Services allows for client assertions. */
export const ASSERTION_ALGS = ['RS384', 'ES384'];
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** SMART: an assertion's `exp` is at most 5 minutes ahead. */
const MAX_ASSERTION_LIFETIME_S = 300;

/** Access tokens the endpoint issued, until they expire. */
export class AccessTokens {
  private readonly tokens = new Map<string, number>(); // token -> expiry, ms

  constructor(readonly lifetimeS: number) {}

  issue(): string {
    this.prune();
    const token = randomBytes(32).toString('base64url');
    this.tokens.set(token, Date.now() + this.lifetimeS * 1000);
    return token;
  }

  /** Whether `Authorization` carries an unexpired token issued here. */
  accepts(authorization: string | undefined): boolean {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const expiry = match ? this.tokens.get(match[1]) : undefined;
    return expiry !== undefined && expiry > Date.now();
  }

  private prune(): void {
    const now = Date.now();
    for (const [token, expiry] of this.tokens) if (expiry <= now) this.tokens.delete(token);
  }
}

class OAuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = code === 'invalid_client' ? 401 : 400,
  ) {
    super(message);
  }
}

/**
 * `POST {origin}/oauth2/token`: the `client_credentials` grant with a `private_key_jwt` client
 * assertion (SMART Backend Services, standards.md §2a). The assertion must be signed RS384/ES384 by
 * a key of the registered client's JWKS (matched by `kid`), with header `typ: JWT`, `iss` = `sub` =
 * client id, `aud` = this endpoint, `exp` at most 5 minutes ahead and a `jti` never seen before.
 * Scopes must be `system/` scopes; the requested ones are granted. Errors follow RFC 6749 §5.2
 * (`invalid_client` 401, others 400), never echoing the assertion.
 */
export function registerTokenEndpoint(
  app: SandboxApp,
  clients: readonly SmartClient[],
  tokens: AccessTokens,
  tokenUrl: () => string,
  logger: Logger,
): void {
  const seenJtis = new Map<string, number>(); // jti -> assertion expiry, ms
  app.post(TOKEN_PATH, async (req: FastifyRequest, reply: FastifyReply) => {
    try {
      const form = formOf(req);
      const scope = await verifyRequest(form, clients, tokenUrl(), seenJtis);
      const token = tokens.issue();
      return reply
        .code(200)
        .header('Cache-Control', 'no-store')
        .header('Pragma', 'no-cache')
        .type('application/json')
        .send({ access_token: token, token_type: 'bearer', expires_in: tokens.lifetimeS, scope });
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      logger.info({ error: err.code, reason: err.message }, 'token request refused');
      return reply.code(err.status).type('application/json').send({ error: err.code, error_description: err.message });
    }
  });
}

function formOf(req: FastifyRequest): Record<string, string> {
  const type = String(req.headers['content-type'] ?? '');
  if (!type.startsWith('application/x-www-form-urlencoded') || !req.body || typeof req.body !== 'object') {
    throw new OAuthError('invalid_request', 'send the token request as application/x-www-form-urlencoded');
  }
  return req.body as Record<string, string>;
}

/** Checks the grant and the assertion; returns the granted scope. */
async function verifyRequest(
  form: Record<string, string>,
  clients: readonly SmartClient[],
  tokenUrl: string,
  seenJtis: Map<string, number>,
): Promise<string> {
  if (form.grant_type !== 'client_credentials') {
    throw new OAuthError('unsupported_grant_type', 'grant_type must be client_credentials');
  }
  if (form.client_assertion_type !== JWT_BEARER) {
    throw new OAuthError('invalid_request', `client_assertion_type must be ${JWT_BEARER}`);
  }
  const assertion = form.client_assertion ?? '';
  let header: ReturnType<typeof decodeProtectedHeader>;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    throw new OAuthError('invalid_client', 'client_assertion is not a JWT');
  }
  if (!ASSERTION_ALGS.includes(String(header.alg))) {
    throw new OAuthError('invalid_client', `client_assertion alg must be one of ${ASSERTION_ALGS.join(', ')}`);
  }
  if (header.typ !== 'JWT' || !header.kid)
    throw new OAuthError('invalid_client', 'client_assertion header needs typ JWT and a kid');
  const client = clients.find((c) => c.clientId === claims.iss);
  if (!client) throw new OAuthError('invalid_client', 'unknown client (iss is not a registered client_id)');
  if (form.client_id !== undefined && form.client_id !== client.clientId) {
    throw new OAuthError('invalid_client', 'client_id does not match the assertion');
  }
  let exp: number;
  let jti: string;
  try {
    const { payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
      issuer: client.clientId,
      subject: client.clientId,
      audience: tokenUrl,
      algorithms: ASSERTION_ALGS,
      requiredClaims: ['exp', 'jti'],
    });
    exp = payload.exp as number;
    jti = payload.jti as string;
  } catch (err) {
    throw new OAuthError('invalid_client', `client_assertion rejected: ${(err as Error).message}`);
  }
  const nowMs = Date.now();
  if (exp > nowMs / 1000 + MAX_ASSERTION_LIFETIME_S) {
    throw new OAuthError('invalid_client', 'client_assertion exp is more than 5 minutes ahead');
  }
  for (const [seen, until] of seenJtis) if (until <= nowMs) seenJtis.delete(seen);
  if (seenJtis.has(jti)) throw new OAuthError('invalid_client', 'client_assertion jti was already used');
  seenJtis.set(jti, exp * 1000);
  const scopes = (form.scope ?? '').split(/\s+/).filter(Boolean);
  if (scopes.length === 0 || scopes.some((s) => !s.startsWith('system/'))) {
    throw new OAuthError('invalid_scope', 'request system/ scopes, e.g. system/*.rs system/RiskAssessment.c');
  }
  return scopes.join(' ');
}
