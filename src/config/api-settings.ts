import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const num = (min: number, max: number) => z.coerce.number().min(min).max(max);
const csv = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string()));

/** One API key: `sha256:<64 hex>` (recommended) or the plain key itself, at least 24 characters. */
const API_KEY = /^(sha256:[0-9a-f]{64}|[A-Za-z0-9._~+/=-]{24,256})$/;

/**
 * Settings of the FHIR REST API, its authentication, CDS Hooks, the queue dashboard and the job rate
 * limits. Spread into the one ConfigSchema (src/config/config.ts); see docs/api.md and
 * docs/operations.md.
 */
export const API_SETTINGS = {
  /** How long `POST Patient/{id}/$assess` waits for its job before answering 202 (ms). */
  ASSESS_SYNC_TIMEOUT_MS: int(0, 300_000).default(20_000),
  /** JWKS of the identity provider that signs API bearer tokens (JWTs). */
  API_JWKS_URL: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL (the JWKS)' }).optional(),
  /** Accepted `iss` value(s) of API JWTs, comma-separated. */
  API_ISSUER: csv.optional(),
  /** Accepted `aud` value(s) of API JWTs, comma-separated. */
  API_AUDIENCE: csv.optional(),
  /** Static API keys for service accounts, comma-separated: `sha256:<hex>` or plain (>= 24 chars). */
  API_KEYS: csv
    .pipe(z.array(z.string().regex(API_KEY, 'each key must be sha256:<64 lowercase hex> or >= 24 characters')))
    .optional(),
  /** JWKS of the EHR that signs CDS Hooks requests; default: CDS clients use the API credentials. */
  CDS_JWKS_URL: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL (the EHR JWKS)' }).optional(),
  /** Accepted `iss` value(s) of CDS Hooks JWTs, comma-separated. */
  CDS_ISSUER: csv.optional(),
  /** Basic-auth user and password of the queue dashboard (/admin/queues). */
  ADMIN_USER: z.string().min(1).default('admin'),
  ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  /** Assessment jobs started per second per EHR source, all workers together (0 = unlimited). */
  EHR_RATE_LIMIT: num(0, 10_000).default(20),
  /** Burst of the per-source bucket (jobs); default 2 x EHR_RATE_LIMIT. */
  EHR_RATE_BURST: int(1, 100_000).optional(),
  /** Calls per second per model endpoint, all workers together (0 = unlimited). */
  MODEL_RATE_LIMIT: num(0, 10_000).default(0),
};

/**
 * Cross-field rules of the API settings; returned as problems so they join every other message. A
 * credential setting that is given but could never be checked is a problem, like a missing one.
 * @param present - variables explicitly present in the environment (ADMIN_USER has a default)
 */
export function apiSettingsProblems(
  cfg: {
    API_JWKS_URL?: string;
    API_ISSUER?: string[];
    API_AUDIENCE?: string[];
    CDS_JWKS_URL?: string;
    CDS_ISSUER?: string[];
    PUBLIC_URL?: string;
    ADMIN_PASSWORD?: string;
  },
  present: ReadonlySet<string> = new Set(),
): string[] {
  const problems: string[] = [];
  if (cfg.API_JWKS_URL && !cfg.API_ISSUER?.length) problems.push('API_ISSUER: required with API_JWKS_URL');
  if (cfg.API_JWKS_URL && !cfg.API_AUDIENCE?.length) problems.push('API_AUDIENCE: required with API_JWKS_URL');
  for (const k of ['API_ISSUER', 'API_AUDIENCE'] as const)
    if (cfg[k]?.length && !cfg.API_JWKS_URL)
      problems.push(`${k}: given without API_JWKS_URL, so no API JWT is ever checked against it; set API_JWKS_URL`);
  if (cfg.CDS_JWKS_URL && !cfg.CDS_ISSUER?.length) problems.push('CDS_ISSUER: required with CDS_JWKS_URL');
  if (cfg.CDS_ISSUER?.length && !cfg.CDS_JWKS_URL)
    problems.push(
      'CDS_ISSUER: given without CDS_JWKS_URL, so CDS Hooks JWTs are not checked against it (CDS clients then use ' +
        'the API credentials); set CDS_JWKS_URL or unset CDS_ISSUER',
    );
  if (cfg.CDS_JWKS_URL && !cfg.PUBLIC_URL)
    problems.push('PUBLIC_URL: required with CDS_JWKS_URL (CDS Hooks JWTs name the service URL as audience)');
  if (present.has('ADMIN_USER') && !cfg.ADMIN_PASSWORD)
    problems.push(
      'ADMIN_USER: given without ADMIN_PASSWORD, so the queue dashboard has no Basic login; set ADMIN_PASSWORD ' +
        '(at least 12 characters) or unset ADMIN_USER',
    );
  return problems;
}
