import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createRemoteJWKSet, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from 'jose';

/** Scopes this API checks in JWTs (API keys carry every scope). See docs/api.md "Authentication". */
export const SCOPES = {
  /** Run `$assess`, read and cancel its status. */
  assess: 'fhir-assess/assess',
  /** Start `$validate-model` (a population-wide read of the EHR), read its status. */
  validate: 'fhir-assess/validate',
  /** Read `/metrics`, use the queue dashboard. */
  admin: 'fhir-assess/admin',
  /** Review (`$review`) and list the assessments awaiting review. */
  review: 'fhir-assess/review',
  /** Read the audit trail (`AuditEvent`). */
  audit: 'fhir-assess/audit',
} as const;

/** Who called: the JWT subject, or the API key's fingerprint. */
export interface Principal {
  kind: 'jwt' | 'api-key' | 'basic';
  subject: string;
  scopes: ReadonlySet<string> | 'all';
  /** The SMART `fhirUser` claim of a JWT (e.g. `Practitioner/123`): who the person is in the EHR. */
  fhirUser?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** 401 (no or bad credentials) or 403 (valid, but lacking a scope); becomes an OperationOutcome. */
export class AuthError extends Error {
  constructor(
    readonly statusCode: 401 | 403,
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

export interface AuthSettings {
  jwksUrl?: string;
  issuer?: string[];
  audience?: string[];
  /** `sha256:<hex>` or plain keys. */
  apiKeys?: string[];
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Verifies API credentials: bearer JWTs against a JWKS (issuer, audience, expiry) or static API keys. */
export class ApiAuthenticator {
  private readonly jwks?: JWTVerifyGetKey;
  private readonly keyHashes: Buffer[];

  /** @param jwks - a key set to use instead of fetching `jwksUrl` (tests, or a pre-loaded set) */
  constructor(
    private readonly settings: AuthSettings,
    jwks?: JWTVerifyGetKey,
  ) {
    this.jwks = jwks ?? (settings.jwksUrl ? createRemoteJWKSet(new URL(settings.jwksUrl)) : undefined);
    this.keyHashes = (settings.apiKeys ?? []).map((k) =>
      k.startsWith('sha256:') ? Buffer.from(k.slice(7), 'hex') : sha256(k),
    );
  }

  /** True when at least one kind of credential can be verified. */
  get configured(): boolean {
    return !!this.jwks || this.keyHashes.length > 0;
  }

  /**
   * The caller behind `Authorization: Bearer <jwt|key>` (or `X-API-Key: <key>`).
   * @param audience - overrides the configured audience (CDS Hooks: the invoked service URL)
   * @throws AuthError 401 when credentials are absent or invalid
   */
  async authenticate(headers: FastifyRequest['headers'], audience?: string[]): Promise<Principal> {
    if (!this.configured)
      throw new AuthError(401, 'API authentication is not configured: set API_KEYS and/or API_JWKS_URL');
    const token = bearerToken(headers);
    if (!token) throw new AuthError(401, 'missing credentials: send Authorization: Bearer <token or API key>');
    if (this.jwks && JWT_SHAPE.test(token)) return this.verifyJwt(token, audience);
    const digest = sha256(token);
    // Compare against every key (no early exit), each in constant time.
    let match = -1;
    this.keyHashes.forEach((h, i) => {
      if (h.length === digest.length && timingSafeEqual(h, digest)) match = i;
    });
    if (match < 0) throw new AuthError(401, 'invalid credentials');
    return { kind: 'api-key', subject: `api-key:${digest.toString('hex').slice(0, 12)}`, scopes: 'all' };
  }

  private async verifyJwt(token: string, audience?: string[]): Promise<Principal> {
    try {
      const { payload } = await jwtVerify(token, this.jwks as JWTVerifyGetKey, {
        issuer: this.settings.issuer,
        audience: audience ?? this.settings.audience,
        requiredClaims: ['exp'],
      });
      const raw = payload.scope ?? payload.scp;
      const list = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.split(' ') : [];
      const fhirUser = typeof payload.fhirUser === 'string' ? payload.fhirUser : undefined;
      return {
        kind: 'jwt',
        subject: `${payload.iss}|${payload.sub ?? ''}`,
        scopes: new Set(list.filter(Boolean)),
        fhirUser,
      };
    } catch (err) {
      const why = err instanceof joseErrors.JOSEError ? err.code : 'unverifiable';
      throw new AuthError(401, `invalid bearer token (${why})`);
    }
  }
}

/** True when the principal holds `scope` (API keys hold every scope). */
export function hasScope(p: Principal, scope: string): boolean {
  return p.scopes === 'all' || p.scopes.has(scope);
}

/** A short, non-reversible id of the caller, stored with requests it owns. */
export function ownerOf(p: Principal): string {
  return sha256(p.subject).toString('hex').slice(0, 16);
}

/** A fastify preHandler that authenticates the request and requires `scope` (when given). */
export function requireAuth(auth: ApiAuthenticator, scope?: string) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      req.principal = await auth.authenticate(req.headers);
    } catch (err) {
      if (err instanceof AuthError && err.statusCode === 401) void reply.header('WWW-Authenticate', 'Bearer');
      throw err;
    }
    if (scope && !hasScope(req.principal, scope))
      throw new AuthError(403, `the token lacks the scope '${scope}' this operation requires`);
  };
}

function bearerToken(headers: FastifyRequest['headers']): string | undefined {
  const auth = headers.authorization;
  const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  if (m) return m[1];
  const key = headers['x-api-key'];
  return typeof key === 'string' && key ? key : undefined;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
