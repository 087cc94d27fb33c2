import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { DEFAULT_CACHE_BYTES } from '../record/record-cache.js';

const name = z.string().regex(/^[a-z0-9-]{1,32}$/, 'lowercase letters, digits and dashes, at most 32');
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' });

/** How the service authenticates to one EHR (standards.md §2a). */
export const SourceAuthSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }),
  z.object({ type: z.literal('bearer'), token: z.string().min(1) }),
  z.object({
    type: z.literal('smart-backend'),
    clientId: z.string().min(1),
    /** PEM (PKCS#8) or JWK JSON of the private key; `@/path` reads a file. */
    privateKey: z.string().min(1),
    keyId: z.string().min(1),
    alg: z.enum(['RS384', 'ES384']).default('RS384'),
    scope: z
      .string()
      .min(1)
      .default('system/*.rs system/RiskAssessment.c system/ClinicalImpression.c system/Provenance.c system/Device.c'),
    /** Default: discovered from `{fhirBaseUrl}/.well-known/smart-configuration`. */
    tokenUrl: httpUrl.optional(),
  }),
  z.object({
    type: z.literal('client-credentials'),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    tokenUrl: httpUrl,
    scope: z.string().optional(),
  }),
]);

/** One configured EHR as written: `intake.reconcile` may still be unset (see {@link SourceSchema}). */
const SourceFields = z.object({
  name,
  fhirBaseUrl: httpUrl,
  auth: SourceAuthSchema.default({ type: 'none' }),
  notify: z
    .object({
      /** Bearer secrets this EHR sends in `Authorization` (Subscription channel.header); several allow rotation. */
      bearerSecrets: z.array(z.string().min(16, 'must be at least 16 characters')).default([]),
      /** Medplum `X-Signature` HMAC-SHA256 secret(s) (subscription-secret extension). */
      hmacSecrets: z.array(z.string().min(16, 'must be at least 16 characters')).default([]),
    })
    .default({ bearerSecrets: [], hmacSecrets: [] }),
  intake: z
    .object({
      /** `push`: Subscriptions; `poll`: `_lastUpdated` polling only (EHRs that cannot push). */
      mode: z.enum(['push', 'poll']).default('push'),
      pollIntervalMs: z.coerce.number().int().min(1000).default(60_000),
      /**
       * Reconciliation polls alongside push, to catch what notifications lost. Default: on when the
       * service manages the Subscription (`subscription.manage`), so an EHR that silently stops
       * delivering is noticed; off otherwise. Always a boolean after parsing.
       */
      reconcile: z.boolean().optional(),
    })
    .default({ mode: 'push', pollIntervalMs: 60_000 }),
  subscription: z
    .object({
      /** Create or repair our Subscription on this EHR at start-up (needs PUBLIC_URL). */
      manage: z.boolean().default(false),
      kind: z.enum(['auto', 'backport', 'classic']).default('auto'),
      content: z.enum(['empty', 'id-only', 'full-resource']).default('id-only'),
      heartbeatSeconds: z.coerce.number().int().min(10).optional(),
    })
    .default({ manage: false, kind: 'auto', content: 'id-only' }),
  /** How the record is read: `auto` picks from the CapabilityStatement. */
  recordStrategy: z.enum(['auto', 'everything', 'batch', 'search']).default('auto'),
  /** Requests in flight to this EHR at once (per process). */
  maxConcurrency: z.coerce.number().int().min(1).max(256).default(8),
  timeoutMs: z.coerce.number().int().min(100).default(30_000),
  /** Largest EHR response body read, bytes (default 64 MiB); reading a bigger one is aborted. */
  maxResponseBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .default(64 * 1024 * 1024),
  /** Bounds and caching of assembled records (src/record). */
  record: z
    .object({
      /** Most resources in one record; the models may lower it. */
      maxResources: z.coerce.number().int().min(10).default(20_000),
      /** `_count` per page. */
      pageSize: z.coerce.number().int().min(1).max(10_000).default(500),
      /** Previous records kept in worker memory for `_since` refreshes; 0 disables. */
      cachePatients: z.coerce.number().int().min(0).default(256),
      /** Memory the kept records may take, bytes (approximate; least recently used evicted first). */
      cacheBytes: z.coerce.number().int().min(0).default(DEFAULT_CACHE_BYTES),
      /** Longest a cached record is trusted before a full re-read (hard deletes are invisible to `_since`), ms. */
      cacheTtlMs: z.coerce.number().int().min(0).default(300_000),
    })
    .default({
      maxResources: 20_000,
      pageSize: 500,
      cachePatients: 256,
      cacheBytes: DEFAULT_CACHE_BYTES,
      cacheTtlMs: 300_000,
    }),
});

/**
 * One configured EHR: where it is, how we authenticate to it, how it tells us about changes.
 * Resolves the defaults that depend on other fields: `intake.reconcile` follows `subscription.manage`.
 */
export const SourceSchema = SourceFields.transform((s) => ({
  ...s,
  intake: { ...s.intake, reconcile: s.intake.reconcile ?? s.subscription.manage },
}));

export type SourceAuth = z.infer<typeof SourceAuthSchema>;
export type Source = z.infer<typeof SourceSchema>;

/** The single source described by environment variables (when no SOURCES_FILE is given). */
export interface EnvSourceSettings {
  SOURCE_NAME: string;
  FHIR_BASE_URL?: string;
  FHIR_BEARER_TOKEN?: string;
  NOTIFY_SECRET?: string;
  NOTIFY_HMAC_SECRET?: string;
  SUBSCRIBE_ON_START: boolean;
  INTAKE_MODE: 'push' | 'poll';
  POLL_INTERVAL_MS: number;
  INTAKE_RECONCILE?: boolean;
  SUBSCRIPTION_KIND?: 'auto' | 'backport' | 'classic';
  HEARTBEAT_SECONDS?: number;
  FHIR_TIMEOUT_MS: number;
  RECORD_STRATEGY?: 'auto' | 'everything' | 'batch' | 'search';
}

/**
 * Sources from `SOURCES_FILE` (a JSON array of sources) or, without one, a single source from the
 * FHIR_* / NOTIFY_* environment variables. Returns problems instead of throwing, so that the caller
 * can report them together with every other bad setting.
 */
export function loadSources(env: EnvSourceSettings & { SOURCES_FILE?: string }): {
  sources: Source[];
  problems: string[];
} {
  let raw: unknown;
  if (env.SOURCES_FILE) {
    try {
      raw = JSON.parse(readFileSync(env.SOURCES_FILE, 'utf8'));
    } catch (err) {
      return { sources: [], problems: [`SOURCES_FILE: cannot read ${env.SOURCES_FILE}: ${(err as Error).message}`] };
    }
  } else if (env.FHIR_BASE_URL) {
    raw = [
      {
        name: env.SOURCE_NAME,
        fhirBaseUrl: env.FHIR_BASE_URL,
        auth: env.FHIR_BEARER_TOKEN ? { type: 'bearer', token: env.FHIR_BEARER_TOKEN } : { type: 'none' },
        notify: {
          bearerSecrets: env.NOTIFY_SECRET ? [env.NOTIFY_SECRET] : [],
          hmacSecrets: env.NOTIFY_HMAC_SECRET ? [env.NOTIFY_HMAC_SECRET] : [],
        },
        intake: { mode: env.INTAKE_MODE, pollIntervalMs: env.POLL_INTERVAL_MS, reconcile: env.INTAKE_RECONCILE },
        subscription: {
          manage: env.SUBSCRIBE_ON_START,
          kind: env.SUBSCRIPTION_KIND,
          heartbeatSeconds: env.HEARTBEAT_SECONDS,
        },
        timeoutMs: env.FHIR_TIMEOUT_MS,
        recordStrategy: env.RECORD_STRATEGY,
      },
    ];
  } else {
    return { sources: [], problems: ['FHIR_BASE_URL: required (or SOURCES_FILE listing the EHRs)'] };
  }
  const parsed = z.array(SourceSchema).min(1, 'at least one source').safeParse(raw);
  if (!parsed.success) {
    const where = env.SOURCES_FILE ? 'SOURCES_FILE' : 'source';
    return { sources: [], problems: parsed.error.issues.map((i) => `${where}.${i.path.join('.')}: ${i.message}`) };
  }
  const names = parsed.data.map((s) => s.name);
  const dupes = names.filter((n, i) => names.indexOf(n) !== i);
  const problems = dupes.length ? [`SOURCES_FILE: duplicate source name(s) ${[...new Set(dupes)].join(', ')}`] : [];
  return { sources: parsed.data, problems };
}
