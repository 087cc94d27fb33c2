import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { loadModelSpecs, type ModelSpec } from '../models/registry-config.js';
import { API_SETTINGS, apiSettingsProblems } from './api-settings.js';
import { effectiveRedisUrl, redisSettingsProblems } from './redis-target.js';
import { sourceFindings } from './source-checks.js';
import { precedenceProblems } from './source-precedence.js';
import { loadSources, type Source } from './sources.js';
import { TRACING_SETTINGS } from './tracing-settings.js';

const url = (what: string) => z.url({ error: `must be an absolute http(s) URL (${what})` });
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/**
 * Every setting, read from the environment once at start-up.
 * Names are the environment variable names; see the configuration table in README.md.
 */
export const ConfigSchema = z.object({
  /** JSON file listing several EHRs (see src/config/sources.ts); without it, one EHR from FHIR_BASE_URL etc. */
  SOURCES_FILE: z.string().min(1).optional(),
  FHIR_BASE_URL: url('the EHR FHIR base, e.g. https://ehr.example.org/fhir/R4').optional(),
  FHIR_BEARER_TOKEN: z.string().min(1).optional(),
  SOURCE_NAME: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'lowercase letters, digits and dashes, at most 32')
    .default('ehr'),
  /** One Redis (`redis://`, `rediss://`) or a Redis Cluster (`redis+cluster://host:port,...`): redis-target.ts. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?(\+cluster)?:\/\//, 'must start with redis://, rediss://, redis+cluster:// or rediss+cluster://')
    .default('redis://127.0.0.1:6379'),
  /** Redis Cluster seed nodes, `host:port,host:port,...` (instead of a redis+cluster:// REDIS_URL). */
  REDIS_CLUSTER_NODES: z.string().min(1).optional(),
  /**
   * PostgreSQL for durable records (the audit trail, validation reports), e.g.
   * postgres://fhir_assess@db:5432/fhir_assess. Redis stays the queue, never the record.
   */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  /** Days the audit trail keeps records; older ones are purged (the chain continues from an anchor). */
  AUDIT_RETENTION_DAYS: int(180, 36_500).default(3650),
  QUEUE_PREFIX: z
    .string()
    .regex(
      /^[A-Za-z0-9_-]*(\{[A-Za-z0-9_-]+\})?[A-Za-z0-9_-]*$/,
      'letters, digits, _ and -, with at most one {hash-tag} (Redis Cluster)',
    )
    .min(1)
    .max(42)
    .default('fhir-assess'),
  HOST: z.string().default('0.0.0.0'),
  PORT: int(0, 65535).default(8080),
  /** `worker` only (no HTTP API): serve /healthz and /readyz on this port for orchestrator probes. */
  HEALTH_PORT: int(0, 65535).optional(),
  /** URL at which the EHR reaches us (Subscription endpoints point at PUBLIC_URL/notify). */
  PUBLIC_URL: url('where the EHR reaches this service').optional(),
  /** Shared secret the EHR sends as `Authorization: Bearer ...` (Subscription channel.header). */
  NOTIFY_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Medplum `X-Signature` HMAC secret (the Subscription's subscription-secret extension). */
  NOTIFY_HMAC_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** `push` (Subscriptions) or `poll` (`_lastUpdated` polling, for EHRs that cannot push). */
  INTAKE_MODE: z.enum(['push', 'poll']).default('push'),
  POLL_INTERVAL_MS: int(1000, 86_400_000).default(60_000),
  /** Create the Subscription on the EHR at start-up (needs PUBLIC_URL). */
  SUBSCRIBE_ON_START: bool.default(false),
  /** Debounce window: changes to one patient within it give one assessment of the newest state. */
  COALESCE_WINDOW_MS: int(0, 600_000).default(3000),
  /**
   * `leading`: a quiet patient's first change is assessed at once, later changes within the window once
   * at its end; `trailing`: every change waits the window (a burst gives exactly one assessment).
   */
  COALESCE_MODE: z.enum(['leading', 'trailing']).default('leading'),
  /** Overlap subtracted from the poll watermark so clock skew between us and the EHR loses nothing. */
  POLL_OVERLAP_MS: int(0, 3_600_000).default(5000),
  /**
   * Reconciliation polls alongside push, every POLL_INTERVAL_MS (a safety net for lost notifications).
   * Default: on when SUBSCRIBE_ON_START is on (the service then relies on its own Subscription), else off.
   */
  INTAKE_RECONCILE: bool.optional(),
  /** Which Subscription SUBSCRIBE_ON_START creates: `auto` = Backport topic if advertised, else classic. */
  SUBSCRIPTION_KIND: z.enum(['auto', 'backport', 'classic']).default('auto'),
  /** Backport heartbeat period asked of the EHR; silence past it (plus GAP_GRACE_MS) triggers `$status`. */
  HEARTBEAT_SECONDS: int(10, 86_400).optional(),
  /** Grace period before a gap in event numbers is recovered: a late notification may still fill it. */
  GAP_GRACE_MS: int(0, 600_000).default(5000),
  /** BullMQ job lock: a crashed worker's jobs run again elsewhere after about this long. */
  JOB_LOCK_MS: int(1000, 600_000).default(30_000),
  ASSESS_CONCURRENCY: int(1, 64).default(4),
  EVENTS_CONCURRENCY: int(1, 256).default(16),
  /** Fixed as-of date for the models (ISO date); default: now. Synthea data ends 2021-03-31. */
  AS_OF: z.iso.date({ error: 'must be an ISO date YYYY-MM-DD' }).optional(),
  MODEL_MODE: z.enum(['shadow', 'preliminary', 'final']).default('preliminary'),
  /** JSON file listing the models to run, their parameters and modes (docs/models.md); default: the embedded library. */
  MODELS_FILE: z.string().min(1).optional(),
  /** Comma list of the model ids to enable (default: every configured model). */
  MODELS: z
    .string()
    .regex(/^[a-z0-9-]+(,[a-z0-9-]+)*$/, 'a comma list of model ids')
    .optional(),
  /** Days the shadow store keeps what a `shadow` model would have written (docs/writeback.md). */
  SHADOW_RETENTION_DAYS: int(1, 3650).default(90),
  FHIR_TIMEOUT_MS: int(100, 600_000).default(30_000),
  /** How records are read (`auto` picks from the CapabilityStatement); SOURCES_FILE sets it per source. */
  RECORD_STRATEGY: z.enum(['auto', 'everything', 'batch', 'search']).default('auto'),
  /** Key for pseudonyms and per-patient date shifts of de-identified records; default: random per process. */
  DEIDENTIFY_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Largest notification body accepted, bytes. */
  NOTIFY_BODY_LIMIT: int(1024, 100 * 1024 * 1024).default(5 * 1024 * 1024),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Population stability index above which drift against the validation baseline raises an alert (metric + log). */
  DRIFT_PSI_THRESHOLD: z.coerce.number().min(0.01).max(10).default(0.25),
  /** Days of recent model outputs compared with the validation baseline. */
  DRIFT_WINDOW_DAYS: int(1, 365).default(30),
  /** Fewest values in the window before a PSI is computed (fewer: too noisy to alert on). */
  DRIFT_MIN_SAMPLES: int(1, 100_000).default(50),
  /** How often workers check drift and log alerts, ms. */
  DRIFT_CHECK_INTERVAL_MS: int(10_000, 86_400_000).default(300_000),
  /** `$validate-model` runs: patient records read per second per run (0 = unpaced), like `validate --rate`. */
  VALIDATION_RATE: z.coerce.number().min(0).max(10_000).default(10),
  /** `$validate-model` runs: records read at once per run, like `validate --concurrency`. */
  VALIDATION_CONCURRENCY: int(1, 64).default(4),
  /** Where workers keep the checkpoints of `$validate-model` runs (ids and computed values only). */
  VALIDATION_WORK_DIR: z.string().min(1).default(join(tmpdir(), 'fhir-assess-validation')),
  /** REST API, its auth, CDS Hooks, dashboard and rate limits (src/config/api-settings.ts). */
  ...API_SETTINGS,
  /** OpenTelemetry tracing, off by default (src/config/tracing-settings.ts). */
  ...TRACING_SETTINGS,
});

export type Config = Readonly<
  z.infer<typeof ConfigSchema> & {
    sources: readonly Source[];
    models: readonly ModelSpec[];
    /** Settings that work but weaken protection or may not do what was meant; logged at start-up. */
    warnings: readonly string[];
  }
>;

/** Thrown when configuration is invalid; the message lists every problem at once. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`,
    );
    this.name = 'ConfigError';
  }
}

/**
 * Parses and freezes the configuration. Empty strings count as unset, so `FOO=` in a compose file
 * falls back to the default rather than failing obscurely. Every problem is collected before throwing:
 * the schema's, SOURCES_FILE's, the precedence rule's (src/config/source-precedence.ts) and the
 * security checks' (src/config/source-checks.ts), so one start-up attempt names everything to fix.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(
    Object.keys(ConfigSchema.shape).map((k) => [k, env[k] === '' ? undefined : env[k]]),
  );
  // "Explicitly set" means present in the environment, not filled in by a zod default.
  const present = new Set(Object.keys(cleaned).filter((k) => cleaned[k] !== undefined));
  const parsed = ConfigSchema.safeParse(cleaned);
  const invalid = new Set(parsed.success ? [] : parsed.error.issues.map((i) => String(i.path[0] ?? '')));
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  problems.push(...precedenceProblems(present, cleaned.SOURCES_FILE));
  // The cross-field checks below see every valid setting, an invalid one left at its default (it is
  // reported above), so that one start-up attempt lists everything to fix.
  const usable = parsed.success
    ? parsed
    : ConfigSchema.safeParse(Object.fromEntries(Object.entries(cleaned).filter(([k]) => !invalid.has(k))));
  if (!usable.success) throw new ConfigError(problems);
  const cfg = usable.data;
  const later: string[] = [];
  const loaded = loadSources(cfg);
  const { sources } = loaded;
  later.push(...loaded.problems);
  const findings = sourceFindings(sources, { fromFile: !!cfg.SOURCES_FILE, PUBLIC_URL: cfg.PUBLIC_URL });
  later.push(...findings.problems, ...apiSettingsProblems(cfg, present), ...redisSettingsProblems(cfg, present));
  const models = loadModelSpecs(cfg, env);
  later.push(...models.problems);
  if (sources.some((s) => s.subscription.manage) && !cfg.PUBLIC_URL) {
    later.push(
      'PUBLIC_URL: required when a Subscription is managed (SUBSCRIBE_ON_START / subscription.manage): its endpoint is PUBLIC_URL/notify',
    );
  }
  // One message per setting: an invalid one is not reported again as "missing".
  problems.push(...later.filter((p) => !invalid.has(p.slice(0, p.indexOf(':')))));
  if (problems.length) throw new ConfigError(problems);
  const warnings = [...findings.warnings];
  if (cfg.DEIDENTIFY_SECRET && models.models.every((m) => m.type === 'embedded'))
    warnings.push('DEIDENTIFY_SECRET: set, but no hosted model is configured, so no record is de-identified');
  return Object.freeze({
    ...cfg,
    REDIS_URL: effectiveRedisUrl(cfg),
    sources: Object.freeze(sources),
    models: Object.freeze(models.models),
    warnings: Object.freeze(warnings),
  });
}

/** The as-of date models use. */
export function asOfDate(cfg: Pick<Config, 'AS_OF'>): Date {
  return cfg.AS_OF ? new Date(`${cfg.AS_OF}T00:00:00Z`) : new Date();
}
